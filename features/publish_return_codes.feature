Feature: What Publish returns
  A driver calls Publish and gets back a code and, on success, a message id.
  The controller checks its arguments in a fixed order; a call refused by one
  of those checks returns an error code, no message id, and does not use up
  a message id. Once an id has been taken, Publish returns 0 even when the
  message cannot go out yet. (Table 1 of publish-semantics.md, row by row.)

  Background:
    Given a client "sensor"

  Scenario Outline: row <row>: a refused publish returns <code>, no message id, and takes no id
    Given client "sensor" is connected
    And client "sensor" publishes "before" to "home/ok" with QoS 0
    When client "sensor" publishes "x" to "<topic>" with QoS <qos>
    Then the call returns <code> and no message id
    And the error text is the text of code <code>
    When client "sensor" publishes "after" to "home/ok" with QoS 0
    Then the message ids of client "sensor" are consecutive

    Examples:
      | row | what                         | topic    | qos | code |
      | 1   | QoS below 0                  | home/t   | -1  | 3    |
      | 1   | QoS above 2                  | home/t   | 3   | 3    |
      | 6   | empty topic                  |          | 0   | 3    |
      | 10  | plus sign as a level         | home/+   | 0   | 3    |
      | 10  | hash sign as a level         | home/#   | 1   | 3    |
      | 10  | hash sign inside a level     | home/a#b | 0   | 3    |

  Scenario Outline: row 2: MQTT 5 properties on an MQTT <version> connection return 10
    Given client "sensor" speaks MQTT <version>
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1 and the properties:
      | CONTENT_TYPE | text/plain |
    Then the call returns 10 and no message id

    Examples:
      | version |
      | 3.1     |
      | 3.1.1   |

  @mqtt5
  Scenario: row 3: a QoS above the broker's maximum returns 24, before the properties are looked at
    Given the broker allows at most QoS 0
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 2 and the properties:
      | SESSION_EXPIRY_INTERVAL | 1 |
    Then the call returns 24 and no message id

  @mqtt5
  Scenario Outline: row 4: a property that does not belong on PUBLISH, or a bad value, returns 2
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 0 and the properties:
      | <property> | <value> |
    Then the call returns 2 and no message id

    Examples:
      | property                 | value |
      | SESSION_EXPIRY_INTERVAL  | 5     |
      | TOPIC_ALIAS              | 0     |

  @mqtt5
  Scenario: row 5: the same property twice returns 22
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 0 and the properties:
      | CONTENT_TYPE | text/plain |
      | 3            | text/html  |
    Then the call returns 22 and no message id

  # A Lua table holds a key once, so a driver repeats a property through the
  # table's sequence of {property, value} pairs (docs/mqtt-api.md); the
  # repeat reaches the library's check.
  @mqtt5
  Scenario Outline: row 5: <property> twice, in the table's sequence, returns 22
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And client "sensor" publishes "before" to "home/ok" with QoS 0
    When client "sensor" publishes "x" to "home/t" with QoS 1 and the properties:
      | <property> | <first>  |
      | <again>    | <second> |
    Then the call returns 22 and no message id
    When client "sensor" publishes "after" to "home/ok" with QoS 0
    Then the message ids of client "sensor" are consecutive

    Examples:
      | property                 | first      | again                   | second    |
      | MESSAGE_EXPIRY_INTERVAL  | 10         | MESSAGE_EXPIRY_INTERVAL | 20        |
      | MESSAGE_EXPIRY_INTERVAL  | 10         | 2                       | 10        |
      | CONTENT_TYPE             | text/plain | CONTENT_TYPE            | text/html |
      | PAYLOAD_FORMAT_INDICATOR | 1          | PAYLOAD_FORMAT_INDICATOR| 1         |

  @mqtt5
  Scenario: row 5: a user property may repeat, its key too, and goes out in the order given
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1 and the properties:
      | USER_PROPERTY | room=kitchen |
      | USER_PROPERTY | unit=C       |
      | USER_PROPERTY | room=hall    |
    Then the call returns 0 and a message id
    And the broker receives that message with the properties:
      | USER_PROPERTY | room=kitchen |
      | USER_PROPERTY | unit=C       |
      | USER_PROPERTY | room=hall    |
    And onPublish reports that message with reason 0

  Scenario Outline: row 7: a topic that is not proper UTF-8 returns 18 (<flaw>)
    Given client "sensor" is connected
    When client "sensor" publishes "x" to a topic containing "<flaw>" with QoS 0
    Then the call returns 18 and no message id

    Examples:
      | flaw                   |
      | an invalid byte        |
      | a control character    |
      | a NUL character        |
      | a C1 control character |
      | a non-character        |
      | a surrogate            |
      | an overlong encoding   |

  Scenario: row 7: a topic longer than 65,536 bytes returns 18
    Given client "sensor" is connected
    When client "sensor" publishes "x" to a topic of 65537 characters with QoS 0
    Then the call returns 18 and no message id

  Scenario: row 8: a topic of exactly 65,536 bytes returns 3
    Given client "sensor" is connected
    When client "sensor" publishes "x" to a topic of 65536 characters with QoS 0
    Then the call returns 3 and no message id

  Scenario: row 9: a payload over 268,435,455 bytes returns 9
    Given client "sensor" is connected
    When client "sensor" publishes 268435456 bytes to "home/t" with QoS 0
    Then the call returns 9 and no message id

  @mqtt5
  Scenario: row 11: a packet larger than the broker's maximum returns 25
    Given the broker accepts packets of at most 30 bytes
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes 26 bytes to "t" with QoS 0
    Then the call returns 25 and no message id

  Scenario: row 12: not connected, QoS 0: returns 4, uses up an id, and the message is gone
    When client "sensor" publishes "lost" to "home/t" with QoS 0
    Then the call returns 4 and no message id
    When client "sensor" connects
    And client "sensor" publishes "kept" to "home/t" with QoS 0
    Then the call returns message id 2
    And onPublish reports that message with reason 0
    And client "sensor" gets no onPublish within 200 milliseconds
    And the broker receives 1 PUBLISH packet from "sensor"

  Scenario Outline: row 13: not connected, QoS <qos>: returns 4, yet the message goes out with DUP after connecting
    When client "sensor" publishes "queued" to "home/t" with QoS <qos>
    Then the call returns 4 and no message id
    When client "sensor" connects
    Then the broker receives that message 1 time, the last with the DUP flag
    And client "sensor" gets onPublish for message id 1 with reason 0

    Examples:
      | qos |
      | 1   |
      | 2   |

  Scenario: row 14: connected over TCP but before CONNACK: returns 0 and the message is written at once
    Given the broker delays the next CONNACK to "sensor" by 2 seconds
    When client "sensor" starts connecting
    And client "sensor" publishes "early" to "home/t" with QoS 1
    Then the call returns 0 and a message id
    And the broker receives that message before it sends CONNACK
    And client "sensor" gets onConnect with reason 0
    And onPublish reports that message with reason 0

  Scenario: row 15: the in-flight window is full: returns 0 and the message waits its turn
    Given client "sensor" allows 1 messages in flight
    And client "sensor" is connected
    And the broker delays the next PUBACK to "sensor" by 1 second
    When client "sensor" publishes 2 messages to "home/t" with QoS 1
    Then every publish returns 0 and a message id
    And onPublish reports the messages in the order they were published
    And at most 1 messages of client "sensor" are in flight at once

  @mqtt5
  Scenario: row 16: retain while the broker keeps no retained messages: returns 0, the flag is cleared
    Given the broker does not keep retained messages
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When client "sensor" publishes "on" to "home/light" with QoS 0, retained
    Then the call returns 0 and a message id
    And the broker receives that message without the retain flag
    And onPublish reports that message with reason 0
