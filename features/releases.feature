Feature: What changed between libmosquitto 2.0.x releases
  The controller's MQTT client is libmosquitto, and a firmware may link a later
  2.0.x release than 2.0.11. These scenarios pin down what a driver sees
  differently from one release to the next; each is tagged with the releases
  it holds for, and a run models one release (mqtthil run --model). The
  fingerprint (mqtthil fingerprint) tells which one a controller behaves like.

  Background:
    Given a client "sensor"

  @model-2.0.11
  Scenario: the controller behaves like libmosquitto 2.0.11
    Then the controller behaves like model "libmosquitto-2.0.11"

  @model-2.0.20
  Scenario: the controller behaves like libmosquitto 2.0.20
    Then the controller behaves like model "libmosquitto-2.0.20"

  @mqtt5 @model-2.0.11
  Scenario Outline: 2.0.11 sends a publish whose <property> later releases refuse
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1 and the properties:
      | <property> | <value> |
    Then the call returns 0 and a message id
    And onPublish reports that message with reason 0
    And the broker receives that message 1 time

    Examples:
      | property                 | value   |
      | PAYLOAD_FORMAT_INDICATOR | 2       |
      | RESPONSE_TOPIC           | reply/+ |
      | RESPONSE_TOPIC           | reply/# |

  @mqtt5 @model-2.0.20
  Scenario Outline: 2.0.20 refuses a publish whose <property> is <value> with 2
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1 and the properties:
      | <property> | <value> |
    Then the call returns 2 and no message id
    When client "sensor" publishes "after" to "home/ok" with QoS 0
    Then the message ids of client "sensor" are consecutive

    Examples:
      | property                 | value   |
      | PAYLOAD_FORMAT_INDICATOR | 2       |
      | RESPONSE_TOPIC           | reply/+ |
      | RESPONSE_TOPIC           | reply/# |

  @model-2.0.11
  Scenario: 2.0.11 drops a failed TLS handshake without a callback
    Given the broker speaks TLS with a certificate for another host name
    And client "sensor" trusts the certificate authority in "broker-tls/ca.pem"
    When client "sensor" starts connecting
    Then client "sensor" gets no onDisconnect within 3 seconds
    And client "sensor" gets no onPublish within 1 second

  # 2.0.11's early size check counts one of the two packet id bytes, so this
  # packet passes it and the library then aborts: no 2.0.11 scenario can
  # exist. From 2.0.16 the send refuses it, after the id was taken.
  @mqtt5 @model-2.0.20
  Scenario: 2.0.20 refuses a QoS 1 packet one byte over Maximum Packet Size with 25, using up its id
    Given the broker accepts packets of at most 30 bytes
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes 24 bytes to "t" with QoS 1
    Then the call returns 25 and no message id
    When client "sensor" publishes 23 bytes to "t" with QoS 1
    Then the call returns message id 2
    And onPublish reports that message with reason 0
    And the broker receives that message in a packet of 31 bytes
