Feature: A controller that breaks the API's promises
  Used by the step library's own tests, with a controller that reports
  every onPublish twice: each step passes, the end-of-scenario check fails.

  Scenario: one publish, two onPublish
    Given a client "sensor"
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/t" with QoS 1
    Then onPublish reports that message with reason 0
