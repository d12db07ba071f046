//! Per-client rate limits (GCRA, from `governor`): one quota on the routes that run the model,
//! one on feedback. A client over its quota gets 429 with `Retry-After` and reaches no handler.
//!
//! A client is its peer IP address, as the server's accept loop records it
//! ([`axum::extract::ConnectInfo`]). Behind a reverse proxy every reader shares the proxy's
//! address, so there the proxy should limit instead (`--rate-limit 0` turns these off).
use super::error::ApiError;
use super::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Requests a client may make per minute, and how many at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateQuota {
    /// `None` when `per_minute` is 0 (no limit).
    pub fn per_minute(per_minute: u32, burst: u32) -> Option<RateQuota> {
        (per_minute > 0).then_some(RateQuota {
            per_minute,
            burst: burst.max(1),
        })
    }
}

/// Keys kept before the limiter forgets the clients whose quota has refilled.
const TRACKED_CLIENTS: usize = 10_000;

/// One keyed limiter.
pub struct ClientLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl ClientLimiter {
    pub fn new(quota: RateQuota) -> ClientLimiter {
        let per_minute = NonZeroU32::new(quota.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
        ClientLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when `client` is over its quota.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.limiter.len() > TRACKED_CLIENTS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            not_until
                .wait_time_from(self.clock.now())
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64
        })
    }
}

/// The server's limiters, built from its options.
#[derive(Default)]
pub struct Limits {
    pub model: Option<ClientLimiter>,
    pub feedback: Option<ClientLimiter>,
}

impl Limits {
    pub fn new(model: Option<RateQuota>, feedback: Option<RateQuota>) -> Limits {
        Limits {
            model: model.map(ClientLimiter::new),
            feedback: feedback.map(ClientLimiter::new),
        }
    }
}

fn client(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

async fn limited(limiter: Option<&ClientLimiter>, request: Request, next: Next) -> Response {
    if let Some(limiter) = limiter {
        let who = client(&request);
        if let Err(wait) = limiter.check(who) {
            tracing::warn!(
                "rate limit: {who} asked too often on {}",
                request.uri().path()
            );
            return ApiError::TooManyRequests(wait).into_response();
        }
    }
    next.run(request).await
}

/// The model routes' limit.
pub async fn model(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    limited(state.limits.model.as_ref(), request, next).await
}

/// The feedback route's limit.
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    limited(state.limits.feedback.as_ref(), request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_waits_and_others_do_not() {
        let limiter = ClientLimiter::new(RateQuota {
            per_minute: 6,
            burst: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert!(limiter.check(b).is_ok());
        assert_eq!(RateQuota::per_minute(0, 5), None);
    }
}
