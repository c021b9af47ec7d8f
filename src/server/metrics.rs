//! Prometheus metrics, hand-rolled: a few counters and one histogram do not
//! need a metrics framework.
//!
//! - `ferry_http_requests_total{route,method,status}`: answered requests;
//! - `ferry_http_request_duration_seconds{route}`: latency histogram;
//! - `ferry_records_stored_total{kind}`: rows written by imports;
//! - `ferry_import_users_existing_total`: users of imports already stored;
//! - `ferry_imports_in_flight`: imports being handled right now;
//! - `ferry_faults_injected_total{fault}`: injected faults.
//!
//! `route` is the route template
//! ([`ContractPath::route`](crate::contract::api::ContractPath::route),
//! `…/{tid}/configuration` say), never the raw path, so the label set stays
//! bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::store::ImportOutcome;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// All counters of the server.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (route, method, status).
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Latency histogram by route.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Rows written per kind.
    pools: AtomicU64,
    users: AtomicU64,
    credentials: AtomicU64,
    identifiers: AtomicU64,
    addresses: AtomicU64,
    users_existing: AtomicU64,
    /// Imports being handled right now.
    imports_in_flight: AtomicI64,
    /// Injected faults by kind.
    faults: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Counts an answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        drop(requests);
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let histogram = latency.entry(route.to_owned()).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Counts what an import wrote.
    pub fn stored(&self, outcome: &ImportOutcome) {
        let w = &outcome.written;
        for (counter, n) in [
            (&self.pools, w.pools),
            (&self.users, w.users),
            (&self.credentials, w.credentials),
            (&self.identifiers, w.identifiers),
            (&self.addresses, w.addresses),
            (&self.users_existing, outcome.users_existing),
        ] {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Counts an import as running until the guard is dropped.
    pub fn import_started(&self) -> InFlight<'_> {
        self.imports_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Counts an injected fault.
    pub fn fault(&self, name: &'static str) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *faults.entry(name).or_default() += 1;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        self.render_records(&mut out);
        self.render_faults(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str("# HELP ferry_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE ferry_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, method, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "ferry_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        out.push_str("# HELP ferry_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE ferry_http_request_duration_seconds histogram\n");
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (route, h) in latency.iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "ferry_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "ferry_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "ferry_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "ferry_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
    }

    fn render_records(&self, out: &mut String) {
        out.push_str("# HELP ferry_records_stored_total Rows written by imports, by kind.\n");
        out.push_str("# TYPE ferry_records_stored_total counter\n");
        for (kind, counter) in [
            ("pool", &self.pools),
            ("user", &self.users),
            ("credential", &self.credentials),
            ("identifier", &self.identifiers),
            ("address", &self.addresses),
        ] {
            let _ = writeln!(
                out,
                "ferry_records_stored_total{{kind=\"{kind}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP ferry_imports_in_flight Imports being handled right now.\n");
        out.push_str("# TYPE ferry_imports_in_flight gauge\n");
        let _ = writeln!(
            out,
            "ferry_imports_in_flight {}",
            self.imports_in_flight.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP ferry_import_users_existing_total Users of imports that were already stored.\n",
        );
        out.push_str("# TYPE ferry_import_users_existing_total counter\n");
        let _ = writeln!(
            out,
            "ferry_import_users_existing_total {}",
            self.users_existing.load(Ordering::Relaxed)
        );
    }

    fn render_faults(&self, out: &mut String) {
        out.push_str("# HELP ferry_faults_injected_total Faults injected into imports.\n");
        out.push_str("# TYPE ferry_faults_injected_total counter\n");
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        for (name, n) in faults.iter() {
            let _ = writeln!(out, "ferry_faults_injected_total{{fault=\"{name}\"}} {n}");
        }
    }
}

/// Keeps an import counted in `ferry_imports_in_flight` while alive.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.imports_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Escapes a label value (`\`, `"` and newlines).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.request("/healthz", "GET", 200, Duration::from_millis(3));
        metrics.request("/healthz", "GET", 200, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains(
            "ferry_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "ferry_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "ferry_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("ferry_http_request_duration_seconds_count{route=\"/healthz\"} 2"));
        assert!(text.contains("ferry_records_stored_total{kind=\"user\"} 0"));
    }
}
