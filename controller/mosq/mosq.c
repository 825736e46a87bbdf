//go:build libmosquitto

#define _GNU_SOURCE /* pipe2 */
#include "mosq.h"
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>

/* Live context structs, to show in tests that none leak. */
static volatile long mqh_live;

long mqh_live_contexts(void) { return __atomic_load_n(&mqh_live, __ATOMIC_SEQ_CST); }

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	(void)m;
	goOnConnect(((mqh_ctx *)ud)->handle, rc, flags, (mosquitto_property *)props);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *props)
{
	(void)m;
	goOnDisconnect(((mqh_ctx *)ud)->handle, rc, (mosquitto_property *)props);
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int rc, const mosquitto_property *props)
{
	(void)m;
	goOnPublish(((mqh_ctx *)ud)->handle, mid, rc, (mosquitto_property *)props);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	(void)m;
	goOnMessage(((mqh_ctx *)ud)->handle, msg->mid, msg->topic, msg->payload, msg->payloadlen,
		msg->qos, msg->retain ? 1 : 0, (mosquitto_property *)props);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int count, const int *granted, const mosquitto_property *props)
{
	(void)m;
	goOnSubscribe(((mqh_ctx *)ud)->handle, mid, count, (int *)granted, (mosquitto_property *)props);
}

static void on_unsubscribe(struct mosquitto *m, void *ud, int mid, const mosquitto_property *props)
{
	(void)m;
	goOnUnsubscribe(((mqh_ctx *)ud)->handle, mid, (mosquitto_property *)props);
}

struct mosquitto *mqh_new(const char *id, int clean, uintptr_t handle, mqh_ctx **ctxp)
{
	mqh_ctx *ctx = calloc(1, sizeof(*ctx));
	struct mosquitto *m;
	if (!ctx) return NULL;
	ctx->handle = handle;
	if (pipe2(ctx->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		free(ctx);
		return NULL;
	}
	m = mosquitto_new(id, clean ? true : false, ctx);
	if (!m) {
		close(ctx->wake[0]);
		close(ctx->wake[1]);
		free(ctx);
		return NULL;
	}
	__atomic_add_fetch(&mqh_live, 1, __ATOMIC_SEQ_CST);
	mosquitto_threaded_set(m, true);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_disconnect_v5_callback_set(m, on_disconnect);
	mosquitto_publish_v5_callback_set(m, on_publish);
	mosquitto_message_v5_callback_set(m, on_message);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_unsubscribe_v5_callback_set(m, on_unsubscribe);
	*ctxp = ctx;
	return m;
}

void mqh_destroy(struct mosquitto *m, mqh_ctx *ctx)
{
	mosquitto_destroy(m);
	close(ctx->wake[0]);
	close(ctx->wake[1]);
	if (ctx->tls_password) {
		memset(ctx->tls_password, 0, strlen(ctx->tls_password));
		free(ctx->tls_password);
	}
	free(ctx);
	__atomic_sub_fetch(&mqh_live, 1, __ATOMIC_SEQ_CST);
}

/* OpenSSL asks for the key's password with libmosquitto's struct as its
 * userdata. */
static int pw_callback(char *buf, int size, int rwflag, void *userdata)
{
	mqh_ctx *ctx = mosquitto_userdata((struct mosquitto *)userdata);
	int n;
	(void)rwflag;
	if (!ctx || !ctx->tls_password || size <= 0) return 0;
	n = (int)strlen(ctx->tls_password);
	if (n >= size) n = size - 1;
	memcpy(buf, ctx->tls_password, (size_t)n);
	buf[n] = 0;
	return n;
}

int mqh_tls_set(struct mosquitto *m, mqh_ctx *ctx, const char *cafile, const char *certfile, const char *keyfile, const char *password)
{
	int rc;
	if (ctx->tls_password) {
		free(ctx->tls_password);
		ctx->tls_password = NULL;
	}
	if (password && password[0]) {
		ctx->tls_password = strdup(password);
		if (!ctx->tls_password) return MOSQ_ERR_NOMEM;
	}
	rc = mosquitto_tls_set(m, cafile, NULL, certfile, keyfile, ctx->tls_password ? pw_callback : NULL);
	return rc;
}

#include <malloc.h>

/* Bytes the C heap has handed out and not taken back. */
long mqh_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (long)mi.uordblks;
}

/* mqh_wake tells the loop that a call queued a packet. The client is
 * threaded, so libmosquitto leaves the write to the loop; its own wake-up
 * socket is private, hence this pipe. A full pipe already says so. */
void mqh_wake(mqh_ctx *ctx)
{
	char b = 0;
	if (write(ctx->wake[1], &b, 1) < 0) {
		/* EAGAIN: a wake-up is pending anyway. */
	}
}

/* One turn of the network loop, as mosquitto_loop takes it, but waiting
 * with poll(2) instead of select(2): mosquitto_loop refuses (3) a socket
 * numbered FD_SETSIZE or above, which a busy test process reaches.
 * Readable (or a pending TLS handshake, which mosquitto_loop_read
 * advances) reads, writable or woken writes, and every turn ends with the
 * keep-alive check. */
int mqh_loop(struct mosquitto *m, mqh_ctx *ctx, int timeout_ms)
{
	struct pollfd pfd[2];
	char buf[64];
	int n, rc, woken;

	pfd[0].fd = mosquitto_socket(m);
	if(pfd[0].fd < 0){
		return MOSQ_ERR_NO_CONN;
	}
	pfd[0].events = POLLIN;
	if(mosquitto_want_write(m)){
		pfd[0].events |= POLLOUT;
	}
	pfd[1].fd = ctx->wake[0];
	pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	n = poll(pfd, 2, timeout_ms);
	if(n < 0){
		return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
	}
	woken = 0;
	if(pfd[1].revents & POLLIN){
		while(read(ctx->wake[0], buf, sizeof(buf)) > 0){
		}
		woken = 1;
	}
	if(pfd[0].revents){
		rc = mosquitto_loop_read(m, 1);
		if(rc || mosquitto_socket(m) < 0){
			return rc;
		}
	}
	if((pfd[0].revents & POLLOUT) || (woken && mosquitto_want_write(m))){
		rc = mosquitto_loop_write(m, 1);
		if(rc || mosquitto_socket(m) < 0){
			return rc;
		}
	}
	return mosquitto_loop_misc(m);
}
