Feature: What Connect and Reconnect return
  libmosquitto looks the broker's host name up inside Connect, so some
  failures come back from the call itself and are never reported by a
  callback; a connection refused by the other end is reported later, by
  onDisconnect. Reconnect repeats the lookup of the last Connect. (The text
  of code 14 is the system's text for the error number, so it is not checked.)

  Background:
    Given a client "sensor"

  Scenario Outline: Connect to <what> returns <code> with no callback
    When client "sensor" calls Connect with host "<host>" and port <port>
    Then the call returns <code>
    When client "sensor" starts reconnecting
    Then the call returns <code>
    And client "sensor" gets no onDisconnect within 1 second

    Examples:
      | what                        | host                 | port | code |
      | a name that does not resolve | no-such-host.invalid | 1883 | 15   |
      | an empty host               |                      | 1883 | 15   |
      | port 0                      | 127.0.0.1            | 0    | 14   |

  Scenario: Reconnect before any Connect returns 3
    When client "sensor" starts reconnecting
    Then the call returns 3

  # C4:MQTT() and C4:MQTT("") are two different calls to Lua. The binding the
  # model follows takes an empty id for none; libmosquitto itself would refuse
  # "" (see docs/mqtt-api.md), so a firmware that hands it over unchanged
  # fails the second row.
  Scenario Outline: a client <form> connects with a clean session
    Given a client "anon" <form>
    And client "anon" is connected
    When client "anon" publishes "x" to "home/t" with QoS 1
    Then the call returns 0 and a message id
    And onPublish reports that message with reason 0

    Examples:
      | form                     |
      | without a client id      |
      | with an empty client id  |

  Scenario: no client id and an empty one both refuse to keep a session
    Then a client without a client id that keeps its session cannot be created
    And a client with an empty client id that keeps its session cannot be created
