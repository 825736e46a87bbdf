Feature: Arguments out of range
  Used by the step library's own tests: each scenario has a step whose
  argument is out of the range the step means.

  Scenario: QoS 3 for the broker
    Given the broker allows at most QoS 3

  Scenario: a negative count
    Given a client "sensor"
    And client "sensor" publishes -2 messages to "home/t" with QoS 1

  Scenario: an unknown packet type
    Given the broker drops the next PUBAK to "sensor"

  Scenario: an unknown MQTT version
    Given a client "sensor"
    And client "sensor" speaks MQTT 4

  Scenario: a broken promise
    Given a client "sensor"
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/t" with QoS 1
    Then onPublish reports that message with reason 16
