Feature: A feature with a mistake in it
  Used by the step library's own tests: one step is misspelt.

  Scenario: a misspelt step
    Given a client "sensor"
    And client "sensor" is connected
    When client "sensor" publishs "21.5" to "home/t" with QoS 1
    Then the call returns 0
