//! The provider layer against hostile servers, end to end through the binary: a redirect is
//! never followed (it would carry the key elsewhere) and fails the run naming where it
//! pointed.

use serde_json::json;

use crate::hostile::{Hostile, Reply};
use crate::http_providers::PROTOCOLS;
use crate::secrets::{generate, text_reply, CANARY};
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
