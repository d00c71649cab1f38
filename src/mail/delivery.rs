//! The delivery task: sends queued mail by SMTP, or writes `.eml` files without SMTP,
//! retrying failures with exponential backoff. A row is leased before sending, so two
//! instances never send the same mail at once.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use entity::mail_outbox;

use crate::config::Settings;
use crate::db::Db;
use crate::metrics::Metrics;

use super::Mailer;

/// Attempts before a mail is given up.
const MAX_ATTEMPTS: i32 = 10;
/// How long a leased row is left alone by other workers.
const LEASE: Duration = Duration::from_secs(120);

/// Where mail goes.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Delivers queued mail until `stop` fires.
pub async fn run(
    db: Db,
    settings: &Settings,
    mailer: Mailer,
    metrics: Metrics,
    stop: CancellationToken,
) {
    let transport = match transport(settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = ?e, "mail delivery disabled");
            return;
        }
    };
    let from: Mailbox = match settings.mail_from.parse() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "MAIL_FROM is not a valid mailbox; mail delivery disabled");
            return;
        }
    };
    loop {
        match deliver_due(&db, &transport, &from, &metrics).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "mail delivery round failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = mailer.woken() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

fn transport(settings: &Settings) -> anyhow::Result<Transport> {
    match &settings.smtp_url {
        Some(url) => Ok(Transport::Smtp(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .context("SMTP_URL is not a valid SMTP URL")?
                .build(),
        )),
        None => {
            std::fs::create_dir_all(&settings.mail_dir).with_context(|| {
                format!("Failed to create MAIL_DIR {}", settings.mail_dir.display())
            })?;
            Ok(Transport::Files(settings.mail_dir.clone()))
        }
    }
}

/// Sends every due mail once; returns how many were handled.
async fn deliver_due(
    db: &Db,
    transport: &Transport,
    from: &Mailbox,
    metrics: &Metrics,
) -> anyhow::Result<usize> {
    let now = Utc::now();
    let due = mail_outbox::Entity::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .filter(mail_outbox::Column::Attempts.lt(MAX_ATTEMPTS))
        .order_by_asc(mail_outbox::Column::CreatedAt)
        .limit(20)
        .all(&db.conn)
        .await?;
    let mut handled = 0;
    for row in due {
        if !lease(db, &row).await? {
            continue;
        }
        handled += 1;
        let result = send(transport, from, &row).await;
        metrics.mail(result.is_ok());
        record(db, &row, result).await?;
    }
    Ok(handled)
}

/// Takes the row for this worker; false when another worker got it first.
async fn lease(db: &Db, row: &mail_outbox::Model) -> anyhow::Result<bool> {
    let now = Utc::now();
    let result = mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(now + LEASE))
        .filter(mail_outbox::Column::Id.eq(row.id))
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .filter(mail_outbox::Column::SentAt.is_null())
        .exec(&db.conn)
        .await?;
    Ok(result.rows_affected == 1)
}

async fn record(
    db: &Db,
    row: &mail_outbox::Model,
    result: anyhow::Result<()>,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut update = mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::Attempts, Expr::value(row.attempts + 1))
        .filter(mail_outbox::Column::Id.eq(row.id));
    update = match result {
        Ok(()) => update.col_expr(mail_outbox::Column::SentAt, Expr::value(now)),
        Err(e) => {
            tracing::warn!(mail_id = %row.id, attempts = row.attempts + 1, error = ?e, "mail delivery failed");
            let backoff = Duration::from_secs(30u64.saturating_mul(1 << row.attempts.clamp(0, 7)));
            update
                .col_expr(
                    mail_outbox::Column::NextAttemptAt,
                    Expr::value(now + backoff),
                )
                .col_expr(
                    mail_outbox::Column::LastError,
                    Expr::value(format!("{e:#}")),
                )
        }
    };
    update.exec(&db.conn).await?;
    Ok(())
}

async fn send(
    transport: &Transport,
    from: &Mailbox,
    row: &mail_outbox::Model,
) -> anyhow::Result<()> {
    let to: Mailbox = row.to_address.parse().context("Invalid recipient")?;
    // 8bit keeps long links intact (no quoted-printable soft breaks). The templates keep
    // every line far below the 998-octet limit, and lines end in CRLF as 8bit requires.
    let body = Body::dangerous_pre_encoded(
        crlf(&row.body).into_bytes(),
        ContentTransferEncoding::EightBit,
    );
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(body);
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .singlepart(part)
        .context("Failed to build the message")?;
    match transport {
        Transport::Smtp(smtp) => {
            smtp.send(message).await.context("SMTP delivery failed")?;
        }
        Transport::Files(dir) => {
            let path = dir.join(format!("{}.eml", row.id));
            let tmp = dir.join(format!(".{}.eml.tmp", row.id));
            tokio::fs::write(&tmp, message.formatted())
                .await
                .context("Failed to write mail file")?;
            tokio::fs::rename(&tmp, &path)
                .await
                .context("Failed to move mail file into place")?;
        }
    }
    Ok(())
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}
