Feature: an unknown step, on purpose

  Scenario: misspelt
    Given a client "c"
    When client "c" pubishes "x" to "home/t" with QoS 1
