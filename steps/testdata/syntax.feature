Feature: A feature that is not Gherkin

  Scenario: fine so far
    Given a client "sensor"

  This line is not a step
    Scenario Outline: no examples
    Given a client "<name>"
    | not | a | table | here
