//! `jiralink notification …`: subscriptions, history, the webhook and a test message.

use jiralink_app::{Channel, NotificationView, SubscriptionDraft, SubscriptionView, format_time};

use crate::args::{ChannelArgs, NotificationCommand, OutputFormat, WebhookCommand};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

fn channel_of(args: ChannelArgs) -> (Channel, Option<String>) {
    match args.email {
        Some(address) => (Channel::Email, Some(address)),
        None => (Channel::Webhook, None),
    }
}

pub(crate) async fn run(ctx: &Ctx, command: NotificationCommand) -> Result<(), CliError> {
    match command {
        NotificationCommand::List {
            user,
            limit,
            before,
        } => {
            let list = ctx
                .app
                .list_notifications(user.as_deref(), before.as_deref(), limit)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&list),
                OutputFormat::Table => {
                    output::table(
                        &["SENT", "STATE", "TO", "USER", "TITLE", "ID"],
                        list.iter().map(history_row).collect(),
                    );
                    Ok(())
                }
            }
        }
        NotificationCommand::Subscriptions { user } => {
            let list = ctx.app.list_subscriptions(user.as_deref()).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&list),
                OutputFormat::Table => {
                    output::table(
                        &["USER", "TOPIC", "ABOUT", "BY", "ID"],
                        list.iter().map(subscription_row).collect(),
                    );
                    Ok(())
                }
            }
        }
        NotificationCommand::Topics => {
            let topics: Vec<serde_json::Value> = jiralink_app::Topic::ALL
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.as_str(),
                        "description": t.description(),
                        "subjectKinds": t.subject_kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            match ctx.output {
                OutputFormat::Json => output::json(&topics),
                OutputFormat::Table => {
                    output::table(
                        &["TOPIC", "WHEN"],
                        jiralink_app::Topic::ALL
                            .iter()
                            .map(|t| vec![t.as_str().to_owned(), t.description().to_owned()])
                            .collect(),
                    );
                    Ok(())
                }
            }
        }
        NotificationCommand::Subscribe {
            user,
            topic,
            subject_kind,
            subject,
            channel,
        } => {
            let (channel, address) = channel_of(channel);
            let view = ctx
                .app
                .subscribe(
                    &user,
                    SubscriptionDraft {
                        topic,
                        subject_kind,
                        subject,
                        channel: channel.as_str().to_owned(),
                        address,
                    },
                )
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    let row = subscription_row(&view);
                    outln!(
                        "Subscribed {} to {} about {} by {} (id {}).",
                        row[0],
                        row[1],
                        row[2],
                        row[3],
                        row[4]
                    );
                    Ok(())
                }
            }
        }
        NotificationCommand::Unsubscribe { user, id } => {
            ctx.app.unsubscribe(&user, &id).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "deleted": id })),
                OutputFormat::Table => {
                    outln!("Unsubscribed.");
                    Ok(())
                }
            }
        }
        NotificationCommand::Test { user, channel } => {
            let (channel, address) = channel_of(channel);
            let view = ctx
                .app
                .send_test_notification(&user, channel, address.as_deref())
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table if view.state == "sent" => {
                    outln!("Sent the test notification (id {}).", view.id);
                    Ok(())
                }
                OutputFormat::Table => Err(CliError::Io(format!(
                    "the test notification could not be sent: {}; it is kept and tried again \
                     by a server's notifications.dispatch job (id {})",
                    view.last_error.unwrap_or_default(),
                    view.id
                ))),
            }
        }
        NotificationCommand::Channels => {
            // The CLI works on the data directory itself: it sees what an administrator sees.
            let channels = ctx.app.notification_channels(true).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&channels),
                OutputFormat::Table => {
                    match &channels.email {
                        Some(e) => outln!(
                            "E-mail:  {}:{} ({}), from {}",
                            e.host,
                            e.port,
                            e.tls,
                            e.from
                        ),
                        None => outln!("E-mail:  not set up ([notifications.smtp] host and from)"),
                    }
                    match &channels.webhook {
                        Some(w) => outln!("Webhook: {} (set {})", w.url, format_time(w.updated_at)),
                        None => outln!("Webhook: not set (notification webhook set URL)"),
                    }
                    Ok(())
                }
            }
        }
        NotificationCommand::Webhook(WebhookCommand::Set { url, new_secret }) => {
            let saved = ctx
                .app
                .set_notification_webhook(&url, new_secret, &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => {
                    let mut value = serde_json::to_value(&saved.webhook)
                        .map_err(|e| CliError::Io(e.to_string()))?;
                    if let (Some(obj), Some(secret)) = (value.as_object_mut(), &saved.secret) {
                        obj.insert("secret".to_owned(), secret.expose().into());
                    }
                    output::json(&value)
                }
                OutputFormat::Table => {
                    outln!("The webhook is {}.", saved.webhook.url);
                    if let Some(secret) = &saved.secret {
                        outln!(
                            "Its signing secret (shown once; receivers check \
                             X-Jiralink-Signature: sha256=<hex HMAC-SHA256 of the body>):\n{}",
                            secret.expose()
                        );
                    }
                    Ok(())
                }
            }
        }
        NotificationCommand::Webhook(WebhookCommand::Remove) => {
            let had = ctx.app.remove_notification_webhook(&ctx.actor).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "removed": had })),
                OutputFormat::Table => {
                    outln!(
                        "{}",
                        if had {
                            "The webhook and its signing secret were removed."
                        } else {
                            "No webhook was set."
                        }
                    );
                    Ok(())
                }
            }
        }
    }
}

fn history_row(n: &NotificationView) -> Vec<String> {
    vec![
        format_time(n.sent_at.unwrap_or(n.created_at)),
        if n.attempts > 1 {
            format!("{} ({} attempts)", n.state, n.attempts)
        } else {
            n.state.clone()
        },
        n.address.clone().unwrap_or_else(|| "webhook".to_owned()),
        n.user.clone(),
        n.title.clone(),
        n.id.to_string(),
    ]
}

fn subscription_row(s: &SubscriptionView) -> Vec<String> {
    let about = match (&s.subject_kind, &s.subject_name, &s.subject_id) {
        (None, _, _) => "every one".to_owned(),
        (Some(kind), Some(name), _) => format!("{kind} {name}"),
        (Some(kind), None, id) => format!("{kind} {}", id.as_deref().unwrap_or_default()),
    };
    vec![
        s.user.clone(),
        s.topic.clone(),
        about,
        s.address.clone().unwrap_or_else(|| s.channel.clone()),
        s.id.to_string(),
    ]
}
