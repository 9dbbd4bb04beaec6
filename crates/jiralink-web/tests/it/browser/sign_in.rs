//! Signing in and out: a wrong password is refused on the page, the right one opens the
//! page first asked for, signing out closes it again.

use super::{Browser, PASSWORD, USER};

#[tokio::test]
async fn signing_in_and_out() {
    let b = Browser::start("sign-in").await;

    b.goto("/connections/new").await;
    b.wait_for("form#login-form").await;
    assert_eq!(b.path().await, "/login?next=%2Fconnections%2Fnew");
    assert!(!b.is_shown("a#new-connection").await);
    b.shot("sign-in-page").await;

    b.sign_in(USER, "not the password").await;
    let error = b.wait_visible(".form-error").await.text().await.unwrap();
    assert!(!error.trim().is_empty());
    assert!(b.path().await.starts_with("/login"), "{}", b.path().await);
    assert_eq!(
        b.value("input#password").await,
        "",
        "a password is never echoed"
    );
    b.shot("wrong-password").await;

    // The page first asked for opens once signed in.
    b.sign_in(USER, PASSWORD).await;
    b.wait_visible("form#connection-form").await;
    assert_eq!(b.path().await, "/connections/new");
    b.goto("/connections").await;
    b.wait_visible("#empty-state").await;
    let header = b.text("header").await;
    assert!(header.contains(USER), "{header}");
    b.shot("signed-in").await;

    b.click_and_load("button#sign-out").await;
    b.goto("/connections").await;
    b.wait_for("form#login-form").await;
    assert!(b.path().await.starts_with("/login"), "{}", b.path().await);
    b.shot("signed-out").await;
    b.finish().await;
}
