Feature: A driver's own Lua code against a misbehaving broker
  The driver runs in the harness's Lua runtime against the broker emulator.
  Every C4:MQTT call it makes, what the call returned and every callback it
  got are recorded, and the promise that holds for any client holds for the
  driver's own publishes: each Publish that returned 0 gets exactly one
  onPublish. A driver that keeps its own books of messages in flight must
  agree with that record after the broker has dropped the connection.

  Scenario: the state publisher gets its state acknowledged although the connection drops at the ack
    Given the driver "drivers/state-publisher" is running with the properties:
      | property             | value        |
      | Broker Host          | {{dut.host}} |
      | Broker Port          | {{dut.port}} |
      | Reconnect Delay (ms) | 50           |
    And the driver's client "room-sensor-1" is connected
    And the broker closes the connection instead of sending the next PUBACK to "room-sensor-1"
    When the driver's property "Temperature" changes to "21.5"
    Then the driver's client "room-sensor-1" connects again
    And every Publish of the driver gets its onPublish within 2 seconds
    And every Publish of the driver returned 0
    And the driver's Lua expression "PendingCount()" gives "0" within 1 second
    And the driver has raised no Lua errors

  Scenario: the state publisher keeps its books through slow, lost and duplicated acks
    Given the driver "drivers/state-publisher" is running with the properties:
      | property             | value        |
      | Broker Host          | {{dut.host}} |
      | Broker Port          | {{dut.port}} |
      | Reconnect Delay (ms) | 50           |
    And the driver's client "room-sensor-1" is connected
    And the broker delays every PUBACK to "room-sensor-1" by 200 milliseconds
    And the broker sends the 2nd PUBACK to "room-sensor-1" 1 extra times
    And the broker drops the 4th PUBACK to "room-sensor-1"
    When the driver runs the Lua code:
      """
      for t = 20, 24 do
        Properties["Temperature"] = tostring(t)
        PublishState()
      end
      """
    And the driver runs the command "Set Temperature" with:
      | parameter | value |
      | value     | 25    |
    Then the driver's Lua expression "Stats().acked" gives "5" within 2 seconds
    And the driver's Lua expression "PendingCount()" gives "1"
    And the driver's Lua expression "Properties['Pending Messages']" gives "1"
    And the driver's Publish with id 4 on client "room-sensor-1" gets no onPublish within 300 milliseconds

  Scenario: the leaky publisher is caught keeping messages that will never be acknowledged
    Given the driver "drivers/leaky-publisher" is running with the properties:
      | property             | value        |
      | Broker Host          | {{dut.host}} |
      | Broker Port          | {{dut.port}} |
      | Reconnect Delay (ms) | 50           |
    And the driver's client "room-sensor-2" is connected
    And the broker closes the connection instead of sending the next PUBACK to "room-sensor-2"
    When the driver's property "Temperature" changes to "21.5"
    Then the driver's client "room-sensor-2" connects again
    And the driver's Publish with id 1 on client "room-sensor-2" gets no onPublish within 500 milliseconds
    And the driver's Lua expression "PendingCount()" gives "1"
