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

  Scenario: the zone bridge comes back on its own reconnect timer after a broker restart
    The bridge waits 20 seconds of its own time before it tries again. Its
    clock runs ten times faster, so it is back within 3 seconds of ours.
    Given the driver's clock runs 10 times faster
    And the driver "drivers/zone-bridge" is running with the properties:
      | property            | value        |
      | Broker Host         | {{dut.host}} |
      | Broker Port         | {{dut.port}} |
      | Reconnect Delay (s) | 20           |
    And the driver's client "zone-bridge-1" is connected
    And the driver's property "Connection" is "online" within 2 seconds
    And the driver's property "Published" is "1" within 2 seconds
    When the broker restarts and stays down for 500 milliseconds
    Then the driver's property "Connection" is "waiting to reconnect" within 1 second
    And the driver's variable "CONNECTED" is "0" within 1 second
    And the driver's client "zone-bridge-1" connects again
    And the driver's property "Connection" is "online" within 3 seconds
    And the driver's variable "CONNECTED" is "1" within 1 second
    And the driver has raised no Lua errors

  Scenario: broker steps reach a driver's own client by its client id
    The driver makes its client itself, so no step names it; the broker's
    steps take its MQTT client id instead.
    Given the driver's clock runs 10 times faster
    And the driver "drivers/zone-bridge" is running with the properties:
      | property            | value        |
      | Broker Host         | {{dut.host}} |
      | Broker Port         | {{dut.port}} |
      | Reconnect Delay (s) | 5            |
    And the driver's client "zone-bridge-1" is connected
    And the driver's property "Published" is "1" within 2 seconds
    When the broker closes the connection to client "zone-bridge-1" now
    Then the driver's property "Connection" is "waiting to reconnect" within 1 second
    And the driver's client "zone-bridge-1" connects again
    And the broker receives 2 CONNECT packets from "zone-bridge-1"
    And the driver has raised no Lua errors

  Scenario: the zone bridge shows its connection in a property and reconnects on its action
    Given the driver "drivers/zone-bridge" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    And the driver's client "zone-bridge-1" is connected
    And the driver's property "Connection" is "online" within 2 seconds
    And the driver fires the event "Broker Online" within 1 second
    And the driver's property "Published" is "1" within 2 seconds
    When the driver's action "Reconnect Now" is pressed
    Then the driver's client "zone-bridge-1" connects again
    And the driver's property "Connection" is "online" within 2 seconds
    And the driver has raised no Lua errors

  Scenario: a setpoint from the thermostat proxy is published and told back to the proxy
    Given the driver "drivers/zone-bridge" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    And the driver's property "Published" is "1" within 2 seconds
    When the driver gets "SET_SETPOINT_HEAT" from its proxy on binding 5001 with:
      | parameter | value |
      | SETPOINT  | 23    |
    Then the driver sends "HEAT_SETPOINT_CHANGED" to its proxy on binding 5001 within 1 second with:
      | parameter | value |
      | SETPOINT  | 23    |
      | SCALE     | C     |
    And the driver's variable "SETPOINT" is "23" within 1 second
    And the driver fires the event "Setpoint Published" within 1 second
    And the driver's property "Published" is "2" within 2 seconds
    When the driver gets "SET_MODE_HVAC" from its proxy on binding 5001 with:
      | parameter | value |
      | MODE      | Cool  |
    Then the driver sends "Publish State" to device 1001 within 1 second
    And the driver's property "Published" is "3" within 2 seconds
    And every Publish of the driver gets its onPublish within 2 seconds
    And the driver has raised no Lua errors

  Scenario: the weather feed shows and publishes what the weather service answers
    Given the driver's HTTP requests are answered from "http/weather.yaml"
    And the driver "drivers/weather-feed" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    Then the driver sends the HTTP request "GET http://weather.example/now" within 2 seconds
    And the driver's property "Outdoor" is "7.5" within 2 seconds
    And the driver's variable "OUTDOOR" is "7.5" within 1 second
    And the driver publishes to "home/outdoor/+" within 2 seconds
    And the driver has raised no Lua errors

  Scenario: the weather feed tells when the weather service fails
    Given the driver's HTTP requests are answered with:
      | method | url                        | status | times |
      | GET    | http://weather.example/now | 503    | 1     |
    And the driver "drivers/weather-feed" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    Then the driver fires the event "Reading Failed" within 2 seconds
    And the driver's property "Outdoor" is "" within 1 second
    When the driver's HTTP requests are answered with:
      | url                        | body                  |
      | http://weather.example/now | {"temperature": -2} |
    And the driver's action "Read Now" is pressed
    Then the driver's property "Outdoor" is "-2" within 2 seconds
    And the driver's property "Last Error" is "" within 1 second

  Scenario: the zone bridge keeps its persisted data across a controller restart
    Given the driver "drivers/zone-bridge" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    And the driver's client "zone-bridge-1" is connected
    And the driver's property "Published" is "1" within 2 seconds
    When the driver runs the command "Publish State"
    Then the driver's property "Published" is "2" within 2 seconds
    When the driver restarts
    Then the driver's Lua expression "PersistData.starts" gives "2"
    And the driver's client "zone-bridge-1" connects again
    And the driver's property "Published" is "3" within 2 seconds
    And the driver's Lua expression "C4:PersistGetValue('published')" gives "3" within 1 second
    And the driver has raised no Lua errors

  Scenario: a hub driver and its child share one connection through a binding
    The hub (the driver under test) owns the MQTT client; its child, another
    driver of the project bound to the hub's connection 5001, asks it for a
    topic and gets what arrives there as a command. Both are the drivers'
    own code, talking through the controller's SendToProxy and SendToDevice.
    Given the driver's clock runs 10 times faster
    And the driver runs in the project "projects/hub.yaml"
    And the driver "drivers/mqtt-hub" is running with the properties:
      | property            | value        |
      | Broker Host         | {{dut.host}} |
      | Broker Port         | {{dut.port}} |
      | Reconnect Delay (s) | 5            |
    And the driver's client "mqtt-hub-1001" is connected
    And device 1002's property "Hub" is "online" within 2 seconds
    And the broker receives at least 1 SUBSCRIBE packets from "mqtt-hub-1001"
    And a client "hall-switch"
    And client "hall-switch" is connected
    When client "hall-switch" publishes "on" to "home/hall/light" with QoS 1
    Then device 1002's property "Last Message" is "on" within 2 seconds
    When device 1002 runs the command "Set" with:
      | parameter | value |
      | value     | off   |
    Then the driver publishes to "home/hall/light/set" within 2 seconds
    And every Publish of the driver gets its onPublish within 2 seconds
    When the broker restarts and stays down for 300 milliseconds
    Then device 1002's property "Hub" is "offline" within 1 second
    And the driver's client "mqtt-hub-1001" connects again
    And device 1002's property "Hub" is "online" within 2 seconds
    And the broker receives at least 2 SUBSCRIBE packets from "mqtt-hub-1001"
    And client "hall-switch" reconnects once the broker is back
    When client "hall-switch" publishes "dim" to "home/hall/light" with QoS 1
    Then device 1002's Lua expression "Properties['Last Message']" gives "dim" within 2 seconds
    And the driver has raised no Lua errors
