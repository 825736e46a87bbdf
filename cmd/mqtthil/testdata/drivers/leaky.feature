Feature: the state publisher's scenario, run against the leaky publisher

  Scenario: the leaky publisher fails where the state publisher passes
    Given the driver "drivers/leaky-publisher" is running with the properties:
      | property             | value        |
      | Broker Host          | {{dut.host}} |
      | Broker Port          | {{dut.port}} |
      | Reconnect Delay (ms) | 50           |
    And the driver's client "room-sensor-2" is connected
    And the broker closes the connection instead of sending the next PUBACK to "room-sensor-2"
    When the driver's property "Temperature" changes to "21.5"
    Then the driver's client "room-sensor-2" connects again
    And every Publish of the driver gets its onPublish within 1 second
