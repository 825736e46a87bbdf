Feature: libmosquitto's own client test cases
  The controller's MQTT client behaves like libmosquitto 2.0, whose authors
  test it against scripted brokers. Each of their cases is written here with
  the broker emulator's faults and settings, so any controller can be held to
  them (publish-semantics.md, section 7).

  Background:
    Given a client "sensor"

  Scenario: QoS 0: onPublish fires with the returned id, also for an empty payload
    Given client "sensor" is connected
    When client "sensor" publishes "hello" to "home/t" with QoS 0
    Then onPublish reports that message with reason 0
    When client "sensor" publishes an empty message to "home/t" with QoS 0
    Then onPublish reports that message with reason 0
    And the broker receives that message 1 time

  Scenario: QoS 1, the broker closes the socket instead of PUBACK: resent with DUP after reconnecting
    Given client "sensor" is connected
    And the broker closes the connection instead of sending the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/t" with QoS 1
    Then client "sensor" gets onDisconnect with code 7
    And client "sensor" has had no onPublish
    When client "sensor" reconnects
    Then the broker receives that message 2 times, the last with the DUP flag
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario Outline: QoS <qos> acks in every legal MQTT 5 length: <shape>
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next <ack> to "sensor" with reason <reason>
    When client "sensor" publishes "x" to "home/t" with QoS <qos>
    Then onPublish reports that message with reason <reason>

    Examples:
      | shape                     | ack     | qos | reason |
      | with a reason code        | PUBACK  | 1   | 16     |
      | with a failure reason     | PUBACK  | 1   | 135    |
      | with a reason code        | PUBCOMP | 2   | 146    |
      | with a plain success code | PUBACK  | 1   | 0      |

    # Not expressed yet: an ack carrying a user property. The emulator has no
    # action that adds properties to an ack, and mochi answers a PUBLISH that
    # carries user properties with a PUBACK of reason 1, which the client
    # rightly refuses as a protocol error.

  @mqtt5
  Scenario: Receive Maximum 3 with 6 QoS 1 publishes: 3 go out, each PUBACK releases the next
    Given the broker accepts at most 3 messages in flight per client
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker delays every PUBACK to "sensor" by 200 milliseconds
    When client "sensor" publishes 6 messages to "home/t" with QoS 1
    Then every publish returns 0 and a message id
    And onPublish reports the messages in the order they were published
    And at most 3 messages of client "sensor" are in flight at once

  Scenario: the full QoS 2 flow
    Given client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 2
    Then onPublish reports that message with reason 0
    And the broker receives that message 1 time
    And the broker sends PUBREC for that message 1 time
    And the broker receives PUBREL for that message 1 time
    And the broker sends PUBCOMP for that message 1 time

  Scenario: QoS 2 cut after PUBLISH: the PUBLISH is resent with DUP
    Given client "sensor" is connected
    And the broker closes the connection instead of sending the next PUBREC to "sensor"
    When client "sensor" publishes "x" to "home/t" with QoS 2
    Then client "sensor" gets onDisconnect with code 7
    When client "sensor" reconnects
    Then the broker receives that message 2 times, the last with the DUP flag
    And onPublish reports that message with reason 0

  Scenario: QoS 2 cut after PUBREL: PUBREL is resent, not the PUBLISH
    Given client "sensor" is connected
    And the broker closes the connection instead of sending the next PUBCOMP to "sensor"
    When client "sensor" publishes "x" to "home/t" with QoS 2
    Then client "sensor" gets onDisconnect with code 7
    When client "sensor" reconnects
    Then the broker receives PUBREL for that message 2 times
    And the broker receives that message 1 time
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario: broker Maximum QoS 0: QoS 1 and 2 return 24 and take no id; QoS 0 gets id 1
    Given the broker allows at most QoS 0
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then the call returns 24 and no message id
    When client "sensor" publishes "x" to "home/t" with QoS 2
    Then the call returns 24 and no message id
    When client "sensor" publishes "x" to "home/t" with QoS 0
    Then the call returns message id 1
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario: broker Maximum QoS 1: QoS 2 returns 24; QoS 1 (id 1) and QoS 0 (id 2) complete
    Given the broker allows at most QoS 1
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 2
    Then the call returns 24 and no message id
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then the call returns message id 1
    And onPublish reports that message with reason 0
    When client "sensor" publishes "y" to "home/t" with QoS 0
    Then the call returns message id 2
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario: PUBREC 128 under Receive Maximum 1: no PUBREL, the slot frees, the second publish goes out
    Given the broker accepts at most 1 messages in flight per client
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next PUBREC to "sensor" with reason 128
    When client "sensor" publishes "first" to "home/t" with QoS 2
    And client "sensor" publishes "second" to "home/t" with QoS 2
    Then onPublish reports message 1 with reason 128
    And the broker receives that message 1 time
    # The broker never saw its PUBREC refused, still counts the first
    # message and drops the client for exceeding Receive Maximum.
    And client "sensor" gets onDisconnect with code 147
    When client "sensor" reconnects
    Then onPublish reports message 2 with reason 0

  @mqtt5
  Scenario Outline: Receive Maximum <window> with 5 QoS 2 publishes: the window holds until PUBCOMP
    Given the broker accepts at most <window> messages in flight per client
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker delays every PUBREC to "sensor" by 200 milliseconds
    When client "sensor" publishes 5 messages to "home/t" with QoS 2
    Then onPublish reports every message with reason 0
    And at most <window> messages of client "sensor" are in flight at once

    Examples:
      | window |
      | 1      |
      | 2      |

  Scenario: a retained QoS 0 publish carries the retain bit
    Given client "sensor" is connected
    When client "sensor" publishes "on" to "home/light" with QoS 0, retained
    Then the broker receives that message with the retain flag
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario: Maximum Packet Size 30: a 31-byte packet is accepted, a 32-byte one returns 25
    Given the broker accepts packets of at most 30 bytes
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes 26 bytes to "t" with QoS 0
    Then the call returns 25 and no message id
    When client "sensor" publishes 25 bytes to "t" with QoS 0
    Then the call returns 0 and a message id
    And the broker receives that message in a packet of 31 bytes
    And onPublish reports that message with reason 0

  @mqtt5
  Scenario: content type, payload format, response topic and correlation data are encoded exactly
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/t" with QoS 1 and the properties:
      | property                 | value      |
      | CONTENT_TYPE             | text/plain |
      | PAYLOAD_FORMAT_INDICATOR | 1          |
      | RESPONSE_TOPIC           | reply/here |
      | CORRELATION_DATA         | req-42     |
    Then the broker receives that message with the properties:
      | CONTENT_TYPE             | text/plain |
      | PAYLOAD_FORMAT_INDICATOR | 1          |
      | RESPONSE_TOPIC           | reply/here |
      | CORRELATION_DATA         | req-42     |
    And onPublish reports that message with reason 0
