Feature: Scenarios that need more than the controller has

  @hardware
  Scenario: on the bench only
    Given a client "sensor"

  @mqtt5
  Scenario: MQTT 5
    Given a client "sensor"
