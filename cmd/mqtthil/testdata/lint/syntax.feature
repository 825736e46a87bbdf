Feature: broken on purpose
  Scenario: fine so far
    Given a client "c"
  Sceanrio: a misspelt keyword
    Given a client "c"
