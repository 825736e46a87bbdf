Feature: Smoke
  A client connects and publishes one message.

  Scenario: one QoS 1 message
    Given a client "sensor"
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the call returns 0 and a message id
    And onPublish reports that message with reason 0
    And the broker receives that message 1 time
