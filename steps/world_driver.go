// The scenario's driver, once a step starts one (driver.go has its steps).
package steps

// driverPart is the scenario's driver: nil until a step starts one.
type driverPart struct {
	driver *driverRun
}
