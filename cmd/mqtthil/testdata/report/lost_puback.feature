Feature: a lost PUBACK seen by an observer, asserted wrongly on purpose
  The report test draws this run: a fault, a resend with DUP, an observer,
  and a last step that expects the wrong reason code.

  Scenario: a lost PUBACK, a reconnect, and the wrong reason expected
    Given a client "sensor"
    And an observer subscribed to "home/#"
    And client "sensor" is connected
    And the broker drops the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the observer receives that message
    When client "sensor" disconnects
    And client "sensor" reconnects
    Then the broker receives that message 2 times, the last with the DUP flag
    And onPublish reports that message with reason 16

  Scenario: two messages complete
    Given a client "sensor"
    And client "sensor" is connected
    When client "sensor" publishes 2 messages to "home/kitchen/temp" with QoS 1
    Then onPublish reports every message with reason 0
