Feature: Publishing through a misbehaving broker
  Real brokers and networks lose acks, answer late, restart, go silent and
  turn clients away. Whatever happens, every message a driver published
  successfully must end in exactly one onPublish once the connection is
  back, a message sent again must say so (DUP) under its own id, and the
  driver must hear about a lost connection through onDisconnect.

  Background:
    Given a client "sensor"

  Scenario: a lost PUBACK, then a reconnect: the message is sent again and completes once
    Given client "sensor" is connected
    And the broker drops the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the broker receives that message 1 time
    And the broker drops PUBACK for that message 1 time
    And onPublish does not report that message within 200 milliseconds
    When client "sensor" disconnects
    Then client "sensor" gets onDisconnect with code 0
    When client "sensor" reconnects
    Then the broker receives that message 2 times, the last with the DUP flag
    And onPublish reports that message with reason 0
    And onPublish reports that message exactly once

  Scenario: a lost PUBREC, then a reconnect: the QoS 2 message is sent again with DUP
    Given client "sensor" is connected
    And the broker drops the next PUBREC to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 2
    Then the broker receives that message 1 time
    And the broker drops PUBREC for that message 1 time
    When client "sensor" disconnects
    And client "sensor" reconnects
    Then the broker receives that message 2 times, the last with the DUP flag
    And onPublish reports that message with reason 0

  Scenario: a PUBLISH lost on its way to the broker is sent again after a reconnect
    Given client "sensor" is connected
    And the broker drops the next PUBLISH from "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the broker drops PUBLISH for that message 1 time
    And onPublish does not report that message within 200 milliseconds
    When client "sensor" disconnects
    And client "sensor" reconnects
    Then the broker receives that message 1 time, the last with the DUP flag
    And onPublish reports that message with reason 0

  Scenario: slow acks with several messages in flight: each completes, in order, once
    Given client "sensor" is connected
    And the broker delays every PUBACK to "sensor" by 300 milliseconds
    When client "sensor" publishes 8 messages to "home/kitchen/temp" with QoS 1
    Then every publish returns 0 and a message id
    And the message ids of client "sensor" are distinct
    And onPublish reports every message with reason 0
    And onPublish reports the messages in the order they were published

  Scenario: slow acks and a small in-flight window: messages wait their turn
    Given client "sensor" allows 2 messages in flight
    And client "sensor" is connected
    And the broker delays every PUBCOMP to "sensor" by 200 milliseconds
    When client "sensor" publishes 5 messages to "home/kitchen/temp" with QoS 2
    Then onPublish reports every message with reason 0
    And at most 2 messages of client "sensor" are in flight at once

  Scenario: slow acks from a fault plan
    Given client "sensor" is connected
    And the broker follows the fault plan "plans/slow-acks.yaml"
    When client "sensor" publishes 4 messages to "home/kitchen/temp" with QoS 1
    Then onPublish reports every message with reason 0

  Scenario: the broker restarts in the middle of a QoS 2 exchange: PUBREL is sent again
    Given a client "meter" that keeps its session
    And client "meter" is connected
    And the broker restarts at the next PUBCOMP to "meter" and stays down for 1 second
    When client "meter" publishes "21.5" to "home/kitchen/temp" with QoS 2
    Then client "meter" gets onDisconnect with code 7
    And client "meter" has had no onPublish
    When client "meter" reconnects once the broker is back
    Then the broker receives PUBREL for that message 2 times
    And the broker receives that message 1 time
    And onPublish reports that message with reason 0

  Scenario: the broker restarts while QoS 1 messages are unacknowledged
    Given client "sensor" is connected
    And the broker drops every PUBACK to "sensor"
    And the broker restarts at the 3rd PUBACK to "sensor" and stays down for 1 second
    When client "sensor" publishes 3 messages to "home/kitchen/temp" with QoS 1
    Then client "sensor" gets onDisconnect with code 7
    When the broker behaves again
    And client "sensor" reconnects once the broker is back
    Then the broker receives 6 PUBLISH packets from "sensor"
    And onPublish reports every message with reason 0

  Scenario: a stalled connection is noticed by keep-alive
    Given client "sensor" connects with a keep-alive of 5 seconds
    And the broker stalls the connection at the next PINGREQ from "sensor" for 20 seconds
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then client "sensor" gets onDisconnect with code 19 within 15 seconds
    When the broker behaves again
    And client "sensor" reconnects
    Then onPublish reports that message with reason 0

  Scenario: a healthy idle connection stays up across keep-alives
    Given client "sensor" connects with a keep-alive of 5 seconds
    Then client "sensor" gets no onDisconnect within 12 seconds
    And the broker receives at least 2 PINGREQ packets from "sensor"

  Scenario: the broker turns the client away (MQTT 3.1.1 return code 5)
    Given the broker refuses the next CONNECT from "sensor" with code 5
    When client "sensor" starts connecting
    Then client "sensor" gets onConnect with reason 5
    And client "sensor" has had no onPublish
    When client "sensor" reconnects
    And client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then onPublish reports that message with reason 0

  @mqtt5
  Scenario: the broker turns the client away (MQTT 5 reason 135)
    Given client "sensor" speaks MQTT 5
    And the broker refuses the next CONNECT from "sensor" with code 135
    When client "sensor" starts connecting
    Then client "sensor" gets onConnect with reason 135

  Scenario: wrong credentials are refused, right ones let in
    Given the broker lets in only user "driver" with password "secret"
    And client "sensor" logs in as "driver" with password "wrong"
    When client "sensor" starts connecting
    Then client "sensor" gets onConnect with reason 5
    When client "sensor" logs in as "driver" with password "secret"
    And client "sensor" reconnects
    And client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then onPublish reports that message with reason 0

  @mqtt5
  Scenario: the broker ends the session with an MQTT 5 DISCONNECT: the reason reaches onDisconnect
    Given client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker disconnects with reason 137 at the next PUBLISH from "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then client "sensor" gets onDisconnect with code 137
    When client "sensor" reconnects
    Then onPublish reports that message with reason 0

  Scenario: a connection reset loses nothing that was acknowledged
    Given client "sensor" is connected
    And the broker delays every PUBACK to "sensor" by 1 second
    And the broker resets the connection instead of sending the 2nd PUBACK to "sensor"
    When client "sensor" publishes 3 messages to "home/kitchen/temp" with QoS 1
    Then client "sensor" gets onDisconnect with code 7
    When client "sensor" reconnects
    Then onPublish reports every message with reason 0

  Scenario: subscribers see a message once even when its ack is lost and it is sent again
    Given an observer subscribed to "home/#"
    And client "sensor" is connected
    And the broker drops the next PUBCOMP to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 2
    Then the observer receives that message
    And the broker drops PUBCOMP for that message 1 time
    When client "sensor" disconnects
    Then client "sensor" gets onDisconnect with code 0
    When client "sensor" reconnects
    Then onPublish reports that message with reason 0
    And the observer receives that message 1 time
