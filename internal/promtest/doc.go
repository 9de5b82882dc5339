// Package promtest runs a real Prometheus server for tests: [Start] writes
// a configuration (scrape jobs, rule files, Alertmanagers) into a temporary
// directory, optionally backfills history with promtool tsdb
// create-blocks-from openmetrics, starts prometheus on a free loopback port,
// waits until it is ready and stops it by PID when the test ends. [Binary]
// finds prometheus, promtool or prometheus-alertmanager, skipping the test
// with the Debian package to install when one is missing, or failing it
// when CI or SLO_REQUIRE_BPF is set. [StartAlertmanager] runs a real
// Alertmanager the same way (clustering off), routing every alert to one
// webhook, for [Options.Alertmanagers]. Both run through [StartProcess],
// which tests also use for programs of their own (a fleet of replicas):
// a free loopback port, a readiness URL, a log, a stop by PID.
//
// It is imported only by tests; it queries the server through package
// promapi ([Server.API], [Server.Eventually]).
package promtest
