//! The provider layer against hostile servers: a redirect is never followed (it would carry
//! the key elsewhere) and fails the run naming where it pointed; a reply body that never ends
//! stops at the cap with a fatal error.

use periodize::llm::{ModelFailure, ModelOutcome};
use periodize::providers::http::MAX_REPLY_BODY_BYTES;
use serde_json::json;

use crate::hostile::{Hostile, Reply};
use crate::http_providers::PROTOCOLS;
use crate::secrets::{generate, overview_request, provider, text_reply, CANARY};
use crate::support::{stderr, stdout, Sandbox};

/// A server that answers 302 or 307 to another server on another port: the second server
/// never receives a request (so never the key), the first gets exactly one (a redirect is
/// fatal, not retried), and the run fails naming the location and the flag to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_fails_naming_its_location() {
    for protocol in PROTOCOLS {
        for status in [302, 307] {
            let target = Hostile::start(move |_| async move {
                Reply::json(200, &text_reply(protocol, "followed"))
            })
            .await;
            let front = Hostile::start({
                let target_url = target.url();
                move |request| {
                    let location = format!("{target_url}{}", request.path);
                    async move { Reply::json(status, &json!({})).header("location", &location) }
                }
            })
            .await;
            let sandbox = Sandbox::new();
            let output = generate(&sandbox, protocol, &front.url()).await;
            assert_eq!(
                output.status.code(),
                Some(1),
                "{protocol:?} {status}: {}",
                stderr(&output)
            );
            assert!(
                target.requests().is_empty(),
                "{protocol:?} {status}: the redirect was followed"
            );
            assert_eq!(front.requests().len(), 1, "{protocol:?} {status}");
            let reason = stdout(&output);
            for needed in [
                format!("answered {status} with a redirect to"),
                target.url(),
                "fix --base-url".to_string(),
            ] {
                assert!(
                    reason.contains(&needed),
                    "{protocol:?} {status}: {needed} missing in {reason}"
                );
            }
            assert!(!reason.contains(CANARY));
        }
    }
}

/// A server that streams a chunked body forever: the call ends by itself once the body passes
/// `MAX_REPLY_BODY_BYTES` (the request timeout is far away), with a fatal failure saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_reply_body_stops_at_the_cap() {
    for protocol in PROTOCOLS {
        let server = Hostile::start(|_| async { Reply::Endless { status: 200 } }).await;
        let reply = provider(protocol, &server.url(), None)
            .call(&overview_request())
            .await;
        assert_eq!(
            reply.outcome,
            ModelOutcome::Failed(ModelFailure::Fatal {
                message: format!(
                    "{}: the 200 reply body exceeds {MAX_REPLY_BODY_BYTES} bytes, more than any model reply; reading stopped there",
                    protocol.name()
                )
            }),
            "{protocol:?}"
        );
    }
}
