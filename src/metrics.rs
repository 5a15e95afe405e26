//! Requests counted and timed through the [`metrics`] facade, with
//! PostgREST's names.

/// A method as a metrics label (a fixed set, so the labels stay few).
pub(crate) fn metrics_method(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts and times one answered request through the [`metrics`] facade.
pub(crate) fn record_request(
    started: std::time::Instant,
    method: &'static str,
    status: http::StatusCode,
) {
    let status = status.as_u16().to_string();
    metrics::counter!("pgrst_http_requests_total", "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("pgrst_http_request_duration_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
}

/// Counts a streamed read given up on because its client took no data in time.
pub(crate) fn stream_given_up() {
    metrics::counter!("pgrst_stream_send_timeouts_total").increment(1);
}
