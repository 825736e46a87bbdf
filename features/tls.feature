Feature: TLS to the broker
  A driver can talk to its broker over TLS: trusting the broker's certificate
  authority only, or also presenting a client certificate. The faults still
  apply inside the encrypted stream. A handshake that fails lets no message
  through; from libmosquitto 2.0.13 on it is reported by onDisconnect with the
  TLS error (8), before that by nothing at all (features/releases.feature).

  Scenario: trusting the broker's CA is enough for an encrypted connection
    Given the broker speaks TLS
    And a client "sensor"
    And client "sensor" trusts the certificate authority in "broker-tls/ca.pem"
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/t" with QoS 1
    Then onPublish reports that message with reason 0
    And the broker receives that message 1 time

  @model-2.0.20
  Scenario: a broker signed by a stranger is refused
    Given the broker speaks TLS
    And a client "sensor"
    And client "sensor" trusts the certificate authority in "broker-tls/other-ca.pem"
    When client "sensor" starts connecting
    Then client "sensor" gets onDisconnect with code 8 within 5 seconds

  Scenario: a client certificate opens a broker that asks for one
    Given the broker speaks TLS and requires a client certificate
    And a client "sensor"
    And client "sensor" presents the certificate "broker-tls/client.pem" with the key "broker-tls/client-key.pem", trusting "broker-tls/ca.pem"
    And client "sensor" is connected
    When client "sensor" publishes "21.5" to "home/t" with QoS 2
    Then onPublish reports that message with reason 0

  @model-2.0.20
  Scenario: a certificate for another host name is refused unless the check is skipped
    Given the broker speaks TLS with a certificate for another host name
    And a client "strict"
    And client "strict" trusts the certificate authority in "broker-tls/ca.pem"
    And a client "lenient"
    And client "lenient" trusts the certificate authority in "broker-tls/ca.pem"
    And client "lenient" skips the TLS host name check
    When client "strict" starts connecting
    Then client "strict" gets onDisconnect with code 8 within 5 seconds
    And client "lenient" is connected

  Scenario: a fault acts inside the encrypted stream
    Given the broker speaks TLS
    And a client "sensor"
    And client "sensor" trusts the certificate authority in "broker-tls/ca.pem"
    And client "sensor" is connected
    And the broker drops the next PUBACK to "sensor"
    When client "sensor" publishes "21.5" to "home/t" with QoS 1
    Then onPublish does not report that message within 300 milliseconds
    And that message may never be reported, because its PUBACK was dropped on purpose
