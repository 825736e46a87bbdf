#ifndef MQTTHIL_MOSQ_H
#define MQTTHIL_MOSQ_H

#include <stdint.h>
#include <stdbool.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

typedef struct {
	uintptr_t handle; /* cgo.Handle of the Go client */
	char *tls_password;
	int wake[2]; /* a pipe: a call that queued a packet wakes the loop */
} mqh_ctx;

struct mosquitto *mqh_new(const char *id, int clean, uintptr_t handle, mqh_ctx **ctxp);
void mqh_destroy(struct mosquitto *m, mqh_ctx *ctx);
int mqh_tls_set(struct mosquitto *m, mqh_ctx *ctx, const char *cafile, const char *certfile, const char *keyfile, const char *password);
int mqh_loop(struct mosquitto *m, mqh_ctx *ctx, int timeout_ms);
void mqh_wake(mqh_ctx *ctx);
long mqh_live_contexts(void);
long mqh_heap_in_use(void);

/* Go side (callbacks.go). */
extern void goOnConnect(uintptr_t h, int rc, int flags, mosquitto_property *props);
extern void goOnDisconnect(uintptr_t h, int rc, mosquitto_property *props);
extern void goOnPublish(uintptr_t h, int mid, int rc, mosquitto_property *props);
extern void goOnMessage(uintptr_t h, int mid, char *topic, void *payload, int payloadlen, int qos, int retain, mosquitto_property *props);
extern void goOnSubscribe(uintptr_t h, int mid, int count, int *granted, mosquitto_property *props);
extern void goOnUnsubscribe(uintptr_t h, int mid, mosquitto_property *props);

#endif
