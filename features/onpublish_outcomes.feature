Feature: What onPublish reports
  After a successful Publish, onPublish tells the driver how the message
  ended, with the same message id. QoS 0 completes once the message is
  written; QoS 1 on the broker's PUBACK; QoS 2 on PUBCOMP. On MQTT 5 the
  broker's reason code is passed through unchanged, even a failure code:
  the message is still complete. On MQTT 3.1 and 3.1.1 there is no reason
  code on the wire, so the reason is always 0.

  Background:
    Given a client "sensor"

  Scenario Outline: QoS <qos> over MQTT <version> completes with reason 0
    Given client "sensor" speaks MQTT <version>
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS <qos>
    Then the call returns 0 and a message id
    And onPublish reports that message with reason 0
    And onPublish reports that message exactly once

    Examples:
      | version | qos |
      | 3.1     | 0   |
      | 3.1     | 1   |
      | 3.1     | 2   |
      | 3.1.1   | 0   |
      | 3.1.1   | 1   |
      | 3.1.1   | 2   |
      | 5       | 0   |
      | 5       | 1   |
      | 5       | 2   |

  @mqtt5
  Scenario Outline: the broker's <ack> reason <reason> reaches onPublish unchanged
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next <ack> to "sensor" with reason <reason>
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS <qos>
    Then onPublish reports that message with reason <reason>
    And onPublish reports that message exactly once

    Examples:
      | ack     | qos | reason | meaning                     |
      | PUBACK  | 1   | 16     | no matching subscribers     |
      | PUBACK  | 1   | 135    | not authorized              |
      | PUBACK  | 1   | 151    | quota exceeded              |
      | PUBCOMP | 2   | 146    | packet identifier not found |

  @mqtt5
  Scenario: a refusing PUBREC ends a QoS 2 message at once, without PUBREL
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next PUBREC to "sensor" with reason 131
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 2
    Then onPublish reports that message with reason 131
    And the broker receives PUBREL for that message 0 times

  Scenario: QoS 2 reports nothing on PUBREC, only on PUBCOMP
    Given client "sensor" is connected
    And the broker delays the next PUBCOMP to "sensor" by 3 seconds
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 2
    Then the broker receives PUBREL for that message 1 time
    And onPublish does not report that message within 100 milliseconds
    And onPublish reports that message with reason 0

  Scenario: a lost PUBACK means no onPublish, never an error onPublish
    Given client "sensor" is connected
    And the broker drops the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the broker receives that message 1 time
    And onPublish does not report that message within 500 milliseconds
    And that message may never be reported, because its ack was lost and the client never reconnects

  Scenario: a PUBACK for an unknown id is ignored
    Given client "sensor" is connected
    And the broker changes the message id of the next PUBACK to "sensor" to 999
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then onPublish does not report that message within 300 milliseconds
    And client "sensor" gets no onDisconnect within 100 milliseconds
    And that message may never be reported, because its ack named another message

  Scenario: a duplicated PUBACK gives one onPublish
    Given client "sensor" is connected
    And the broker duplicates the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the broker sends PUBACK for that message 2 times
    And onPublish reports that message exactly once

  Scenario: a payload from a doc string and from a file
    Given client "sensor" is connected
    When client "sensor" publishes to "home/kitchen/state" with QoS 1:
      """
      {"room": "kitchen", "temperature": 21.5}
      """
    Then onPublish reports that message with reason 0
    And the broker receives that message 1 time
    When client "sensor" publishes the file "payloads/reading.json" to "home/kitchen/state" with QoS 2
    Then onPublish reports that message with reason 0
    And the broker receives that message 1 time
