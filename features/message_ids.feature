Feature: Message ids tie each Publish to its onPublish
  Several messages can be on their way at once; the message id that Publish
  returns is how a driver tells which onPublish belongs to which message.
  Ids come from one counter per client object, shared with Subscribe and
  Unsubscribe: they start at 1, go up by one, and after 65535 comes 1.

  Background:
    Given a client "sensor"

  Scenario: concurrent publishes get distinct ids, and each onPublish names its own
    Given client "sensor" is connected
    And the broker delays every PUBACK to "sensor" by 200 milliseconds
    When client "sensor" publishes 5 messages to "home/t" with QoS 1
    Then every publish returns 0 and a message id
    And the message ids of client "sensor" are distinct
    And client "sensor" handed out the message ids "1, 2, 3, 4, 5"
    And onPublish reports every message with reason 0
    And onPublish reports the messages in the order they were published

  Scenario: acks answered out of order still reach the right messages
    Given client "sensor" is connected
    And the broker delays the next PUBACK to "sensor" by 300 milliseconds
    When client "sensor" publishes "slow" to "home/t" with QoS 1
    And client "sensor" publishes "fast" to "home/t" with QoS 0
    Then onPublish reports message 2 before message 1
    And onPublish reports message 1 with reason 0

  Scenario: a QoS 0 publish uses up an id too
    Given client "sensor" is connected
    When client "sensor" publishes "a" to "home/t" with QoS 0
    And client "sensor" publishes "b" to "home/t" with QoS 1
    And client "sensor" publishes "c" to "home/t" with QoS 2
    Then client "sensor" handed out the message ids "1, 2, 3"
    And onPublish reports every message with reason 0

  Scenario: Subscribe and Unsubscribe take their ids from the same counter
    Given client "sensor" is connected
    When client "sensor" publishes "a" to "home/t" with QoS 1
    And client "sensor" subscribes to "home/+/cmd" with QoS 1
    Then the call returns 0 and a message id
    And onSubscribe reports that subscription granting QoS 1
    When client "sensor" publishes "b" to "home/t" with QoS 1
    And client "sensor" unsubscribes from "home/+/cmd"
    Then onUnsubscribe reports that unsubscription
    When client "sensor" publishes "c" to "home/t" with QoS 1
    Then client "sensor" handed out the message ids "1, 2, 3, 4, 5"
    And the message ids of client "sensor" are consecutive

  Scenario: Subscribe while not connected returns 4 before taking an id
    When client "sensor" subscribes to "home/#" with QoS 0
    Then the call returns 4 and no message id
    When client "sensor" connects
    And client "sensor" publishes "a" to "home/t" with QoS 0
    Then the call returns message id 1

  Scenario: reconnecting does not reset the counter
    Given client "sensor" is connected
    And client "sensor" publishes "a" to "home/t" with QoS 1
    And onPublish reports that message with reason 0
    When client "sensor" disconnects
    Then client "sensor" gets onDisconnect with code 0
    When client "sensor" reconnects
    And client "sensor" publishes "b" to "home/t" with QoS 1
    Then the call returns message id 2
    And onPublish reports that message with reason 0

  Scenario: ids wrap from 65535 to 1, never 0
    Given client "sensor" makes 65533 QoS 0 publishes before connecting
    And client "sensor" is connected
    When client "sensor" publishes 3 messages to "home/t" with QoS 1
    Then client "sensor" handed out the message ids "65534, 65535, 1"
    And the message ids of client "sensor" wrap from 65535 to 1
    And onPublish reports every message with reason 0
