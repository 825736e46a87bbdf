// The scenario's driver, once a step starts one (driver.go has its steps).
package steps

import "github.com/mqtthil/mqtthil/controller"

// driverPart is the scenario's driver: nil until a step starts one.
type driverPart struct {
	driver *driverRun
	// driverSpeed is how many times faster than the run's clock the
	// driver's clock runs; 0 means as fast.
	driverSpeed float64
	// driverSetup is what steps asked of the driver before it started
	// (declared HTTP answers), done when it starts.
	driverSetup []func(controller.Driver) error
	// driverProject is the project file the driver runs in; "" alone.
	driverProject string
}
