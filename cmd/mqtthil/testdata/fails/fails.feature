Feature: a promise the simulated controller does not break, asserted wrongly on purpose

  Scenario: wrong expectation
    Given a client "c"
    And client "c" is connected
    When client "c" publishes "x" to "home/t" with QoS 1
    Then the call returns 3 and no message id

  Scenario: right expectation
    Given a client "c"
    And client "c" is connected
    When client "c" publishes "x" to "home/t" with QoS 1
    Then the call returns 0 and a message id
