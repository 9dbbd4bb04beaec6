//! Secret values as types.
//!
//! Each type wraps a [`Zeroizing<String>`] so the value is wiped when dropped, prints as
//! `Name([redacted])` in `Debug`, and offers the value only through `expose()`. None of them is
//! `Clone`, `Display` or `Serialize`: copying, printing or persisting a secret has to be spelled
//! out, which keeps it visible in review. There is no `PartialEq` either; compare with `ct_eq`,
//! which runs in constant time.
//!
//! ```compile_fail,E0599
//! let token = jiralink_vault::ApiToken::new("atl-example");
//! let copy = token.clone();
//! ```
//!
//! ```compile_fail,E0277
//! let token = jiralink_vault::ApiToken::new("atl-example");
//! println!("{token}");
//! ```
//!
//! Wiping is hygiene, not a guarantee: a `String` that grew before it was wrapped may have left
//! copies behind, and so may the caller's own buffers.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Not `Clone`, `Display` or `Serialize`; `Debug` is redacted and the value is wiped on
        /// drop.
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret value.
            ///
            /// # Security
            ///
            /// Never log, display, return in a response or store this value unsealed. Pass it
            /// straight to where it is consumed, such as an `Authorization` header or
            /// [`seal`](crate::seal()).
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Whether the value is the empty string.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// Compares two values in time independent of where they differ, for checks an
            /// attacker can probe (OAuth `state`, CSRF tokens). Values of different lengths
            /// compare unequal at once, so only the length can leak.
            pub fn ct_eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(Zeroizing::new(value))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        /// Takes over an opened secret, e.g. from [`open_string`](crate::open_string), without
        /// copying it.
        impl From<Zeroizing<String>> for $name {
            fn from(value: Zeroizing<String>) -> Self {
                Self(value)
            }
        }
    };
}

secret_newtype!(
    /// A Jira Cloud API token, used with the account e-mail for Basic authentication.
    ApiToken
);
secret_newtype!(
    /// An OAuth 2.0 client secret.
    ClientSecret
);
secret_newtype!(
    /// An OAuth 2.0 access token.
    AccessToken
);
secret_newtype!(
    /// An OAuth 2.0 refresh token. Atlassian rotates these, so the newest one must be stored
    /// before the access token issued with it is used.
    RefreshToken
);
secret_newtype!(
    /// A PKCE code verifier (RFC 7636).
    PkceVerifier
);
secret_newtype!(
    /// An OAuth 2.0 `state` value, single use and compared with [`OAuthState::ct_eq`].
    OAuthState
);
secret_newtype!(
    /// A password or passphrase.
    Password
);
secret_newtype!(
    /// A web session's token, held by the browser's cookie; only its SHA-256 is stored.
    SessionToken
);
secret_newtype!(
    /// A user's API key for scripts (`jlk_…`); only its SHA-256 is stored.
    UserApiKey
);
secret_newtype!(
    /// The secret a Jira admin webhook signs its deliveries with (`X-Hub-Signature`).
    WebhookSecret
);
secret_newtype!(
    /// Any other secret text.
    SecretText
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if `$ty` does NOT implement `$trait`: with an implementation both blanket
    /// impls apply, `_` cannot be inferred and the build fails.
    macro_rules! assert_not_impl {
        ($ty:ty, $($trait:tt)+) => {
            const _: fn() = || {
                trait AmbiguousIfImpl<A> {
                    fn some_item() {}
                }
                impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
                #[allow(dead_code)]
                struct Invalid;
                impl<T: ?Sized + $($trait)+> AmbiguousIfImpl<Invalid> for T {}
                let _ = <$ty as AmbiguousIfImpl<_>>::some_item;
            };
        };
    }

    macro_rules! assert_not_leaky {
        ($($ty:ty),+ $(,)?) => {
            $(
                assert_not_impl!($ty, Clone);
                assert_not_impl!($ty, std::fmt::Display);
                assert_not_impl!($ty, serde::Serialize);
                assert_not_impl!($ty, PartialEq);
            )+
        };
    }

    assert_not_leaky!(
        ApiToken,
        ClientSecret,
        AccessToken,
        RefreshToken,
        PkceVerifier,
        OAuthState,
        Password,
        SessionToken,
        UserApiKey,
        WebhookSecret,
        SecretText,
    );

    const CANARY: &str = "CANARY-7f3e9b1c-q8Zk2vLw0pXy";

    /// Fails if any 4-character run of `secret` shows up in `text`.
    fn assert_no_fragment(text: &str, secret: &str) {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(4) {
            let fragment: String = window.iter().collect();
            assert!(!text.contains(&fragment), "{text:?} contains {fragment:?}");
        }
    }

    macro_rules! redaction_test {
        ($test:ident, $ty:ident) => {
            #[test]
            fn $test() {
                let secret = $ty::new(CANARY);
                let expected = concat!(stringify!($ty), "([redacted])");
                assert_eq!(format!("{secret:?}"), expected);
                assert_eq!(format!("{secret:#?}"), expected);
                assert_no_fragment(&format!("{secret:?}"), CANARY);
                assert_no_fragment(&format!("{:?}", Some(&secret)), CANARY);
                assert_eq!(secret.expose(), CANARY);
            }
        };
    }

    redaction_test!(api_token_debug_is_redacted, ApiToken);
    redaction_test!(client_secret_debug_is_redacted, ClientSecret);
    redaction_test!(access_token_debug_is_redacted, AccessToken);
    redaction_test!(refresh_token_debug_is_redacted, RefreshToken);
    redaction_test!(pkce_verifier_debug_is_redacted, PkceVerifier);
    redaction_test!(oauth_state_debug_is_redacted, OAuthState);
    redaction_test!(password_debug_is_redacted, Password);
    redaction_test!(session_token_debug_is_redacted, SessionToken);
    redaction_test!(user_api_key_debug_is_redacted, UserApiKey);
    redaction_test!(webhook_secret_debug_is_redacted, WebhookSecret);
    redaction_test!(secret_text_debug_is_redacted, SecretText);

    #[test]
    fn constructors_agree() {
        let a = ApiToken::new(String::from("atl-xyz"));
        let b = ApiToken::from("atl-xyz");
        let c = ApiToken::from(String::from("atl-xyz"));
        let d = ApiToken::from(Zeroizing::new(String::from("atl-xyz")));
        for t in [&b, &c, &d] {
            assert_eq!(t.expose(), a.expose());
        }
    }

    #[test]
    fn ct_eq_compares_whole_values() {
        let state = OAuthState::new("s7aTe-value");
        assert!(state.ct_eq(&OAuthState::new("s7aTe-value")));
        assert!(!state.ct_eq(&OAuthState::new("s7aTe-valuf")));
        assert!(!state.ct_eq(&OAuthState::new("s7aTe-value-longer")));
        assert!(!state.ct_eq(&OAuthState::new("")));
    }

    #[test]
    fn is_empty_reports_empty_values() {
        assert!(Password::new("").is_empty());
        assert!(!Password::new("p").is_empty());
    }
}
