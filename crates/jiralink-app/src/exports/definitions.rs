//! Saved export definitions: create, edit, show, list, delete.

use std::collections::HashMap;

use jiralink_domain::{
    AuditAction, Connection, ConnectionId, ConnectionState, FieldChange, ResourceKind,
};
use jiralink_store::{ExportRecord, ExportRunRecord, JobRecord, NewJob, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ExportDraft, ExportView, RUN_JOB, RunView, Schedule};
use crate::{Actor, App, AppError, AppResult};

/// The longest export name, in characters.
pub const MAX_EXPORT_NAME_CHARS: usize = 100;

/// What is wrong with the (trimmed) name of a saved definition (`kind`: export, import), if
/// anything: the one rule for both.
pub(crate) fn definition_name_problem(name: &str, kind: &str) -> Option<String> {
    if name.is_empty() {
        Some(format!("the {kind} needs a name"))
    } else if name.chars().count() > MAX_EXPORT_NAME_CHARS {
        Some(format!(
            "the name is too long: at most {MAX_EXPORT_NAME_CHARS} characters"
        ))
    } else if name
        .chars()
        .any(|c| c.is_control() || jiralink_domain::is_text_direction_control(c))
    {
        Some("the name cannot contain control characters".to_owned())
    } else {
        None
    }
}

/// The key of a definition's job.
pub(crate) fn job_key(id: Uuid) -> String {
    format!("export:{id}")
}

/// A draft checked against the store: what to save.
struct Checked {
    name: String,
    connection: Connection,
    spec: serde_json::Value,
    schedule: Option<serde_json::Value>,
}

impl App {
    /// Finds an export by id or by name (without regard to case).
    pub(crate) async fn find_export(&self, reference: &str) -> AppResult<ExportRecord> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: Uuid| store.get_export(id).await,
            async |name: &str| store.find_export_by_name(name.trim()).await,
            || AppError::ExportNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// Checks every part of a draft; all problems are reported at once.
    async fn check_draft(&self, draft: &ExportDraft, editing: Option<Uuid>) -> AppResult<Checked> {
        let mut problems = Vec::new();
        let name = draft.name.trim().to_owned();
        problems.extend(definition_name_problem(&name, "export"));
        if let Err(e) = draft.spec.validate() {
            problems.push(e.to_string());
        }
        if let Some(schedule) = &draft.schedule
            && let Err(e) = schedule.check()
        {
            problems.push(e);
        }
        if !problems.is_empty() {
            return Err(AppError::InvalidInput(problems.join("; ")));
        }
        if let Some(other) = self.store().find_export_by_name(&name).await?
            && Some(other.id) != editing
        {
            return Err(AppError::ExportNameTaken { name });
        }
        let connection = self.find_connection(&draft.connection).await?;
        let spec = serde_json::to_value(&draft.spec)
            .map_err(|e| AppError::InvalidInput(format!("the export cannot be saved: {e}")))?;
        let schedule = draft
            .schedule
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| AppError::InvalidInput(format!("the schedule cannot be saved: {e}")))?;
        Ok(Checked {
            name,
            connection,
            spec,
            schedule,
        })
    }

    /// Validates and saves a new export; schedules its first run when it has a schedule.
    pub async fn create_export(&self, draft: ExportDraft, actor: &Actor) -> AppResult<ExportView> {
        let checked = self.check_draft(&draft, None).await?;
        let now = self.now();
        let record = ExportRecord {
            id: Uuid::new_v4(),
            name: checked.name,
            connection_id: checked.connection.id,
            spec: checked.spec,
            schedule: checked.schedule,
            enabled: draft.enabled,
            cursor: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_export(&record)
            .await
            .map_err(|e| name_taken(e, &record.name))?;
        self.audit_export(
            actor,
            AuditAction::Create,
            &record,
            export_changes(None, &record),
        )
        .await;
        self.plan_schedule(&record, &draft.schedule).await?;
        tracing::info!(export = %record.id, "export created");
        self.get_export(&record.id.to_string()).await
    }

    /// Replaces an export's settings with a complete draft made from the export at `version`
    /// ([`AppError::Conflict`], with nothing changed, when it is at another one by now). The
    /// delta cursor stays: the next delta run goes on from where the last one ended.
    pub async fn update_export(
        &self,
        reference: &str,
        draft: ExportDraft,
        version: u64,
        actor: &Actor,
    ) -> AppResult<ExportView> {
        let old = self.find_export(reference).await?;
        if old.version != version {
            return Err(crate::connections::conflict("export", version, old.version));
        }
        let checked = self.check_draft(&draft, Some(old.id)).await?;
        let record = ExportRecord {
            name: checked.name,
            connection_id: checked.connection.id,
            spec: checked.spec,
            schedule: checked.schedule,
            enabled: draft.enabled,
            updated_at: self.now(),
            ..old.clone()
        };
        match self.store().update_export(&record).await {
            Ok(_) => {}
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_export(old.id).await?.version;
                return Err(crate::connections::conflict("export", version, current));
            }
            Err(e) => return Err(name_taken(e, &record.name)),
        }
        self.audit_export(
            actor,
            AuditAction::Update,
            &record,
            export_changes(Some(&old), &record),
        )
        .await;
        self.plan_schedule(&record, &draft.schedule).await?;
        tracing::info!(export = %record.id, "export updated");
        self.get_export(&record.id.to_string()).await
    }

    /// One export with its last run and next run.
    pub async fn get_export(&self, reference: &str) -> AppResult<ExportView> {
        let record = self.find_export(reference).await?;
        let connection = self.store().get_connection(record.connection_id).await?;
        let jobs = self.export_jobs().await?;
        let last = self.last_export_run(record.id).await?;
        let names = HashMap::from([(record.id, record.name.clone())]);
        let connections = HashMap::from([(connection.id, connection.clone())]);
        let last_run = last.map(|r| self.run_view(r, &names, &connections));
        export_view(record, &connection, &jobs, last_run)
    }

    /// Every export, by name.
    pub async fn list_exports(&self) -> AppResult<Vec<ExportView>> {
        let records = self.store().list_exports().await?;
        let connections: HashMap<ConnectionId, Connection> = self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let jobs = self.export_jobs().await?;
        let names: HashMap<Uuid, String> = records.iter().map(|r| (r.id, r.name.clone())).collect();
        let mut latest: HashMap<Uuid, ExportRunRecord> = self
            .store()
            .latest_export_runs()
            .await?
            .into_iter()
            .filter_map(|r| Some((r.export_id?, r)))
            .collect();
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let Some(connection) = connections.get(&record.connection_id) else {
                continue;
            };
            let last = latest
                .remove(&record.id)
                .map(|r| self.run_view(r, &names, &connections));
            views.push(export_view(record, connection, &jobs, last)?);
        }
        Ok(views)
    }

    /// Deletes an export with its runs and their output. A run still going is stopped at
    /// its next checkpoint (it loses its record).
    pub async fn delete_export(&self, reference: &str, actor: &Actor) -> AppResult<()> {
        let record = self.find_export(reference).await?;
        let flows = self.flows_using(record.id).await?;
        if !flows.is_empty() {
            return Err(AppError::InUse {
                what: "export",
                users: flows,
            });
        }
        self.store().delete_export(record.id).await?;
        self.audit_export(actor, AuditAction::Delete, &record, Vec::new())
            .await;
        // The job finds its export gone and deletes itself.
        self.store()
            .reschedule_job(&job_key(record.id), self.now())
            .await?;
        tracing::info!(export = %record.id, "export deleted");
        Ok(())
    }

    /// Makes the definition's job due at its next scheduled time (adding the job when
    /// missing). Without a schedule, or disabled, nothing is planned: a job left from an
    /// earlier schedule deletes itself when it comes due.
    async fn plan_schedule(
        &self,
        record: &ExportRecord,
        schedule: &Option<Schedule>,
    ) -> AppResult<()> {
        let Some(schedule) = schedule.as_ref().filter(|_| record.enabled) else {
            return Ok(());
        };
        let now = self.now();
        let Some(next) = schedule.check().ok().and_then(|s| s.next_after(now)) else {
            return Ok(());
        };
        self.ensure_export_job(record.id, next).await
    }

    /// Adds the definition's job unless it exists, and makes it due at `at`.
    pub(crate) async fn ensure_export_job(&self, id: Uuid, at: OffsetDateTime) -> AppResult<()> {
        self.ensure_definition_job(NewJob {
            kind: RUN_JOB.to_owned(),
            key: job_key(id),
            payload: serde_json::json!({ "exportId": id }),
            next_run_at: at,
        })
        .await
    }

    /// The export jobs, by key.
    async fn export_jobs(&self) -> AppResult<HashMap<String, JobRecord>> {
        self.jobs_of_kind(RUN_JOB).await
    }

    /// Records a change in the audit log; a failure to record is logged, not returned, since
    /// the change itself is saved.
    async fn audit_export(
        &self,
        actor: &Actor,
        action: AuditAction,
        record: &ExportRecord,
        changes: Vec<FieldChange>,
    ) {
        let entry = self.audit_entry_for(
            actor,
            action,
            ResourceKind::Export,
            record.id,
            &record.name,
            changes,
        );
        if let Err(e) = self.store().append_audit(&entry).await {
            tracing::warn!(export = %record.id, error = %e, "the audit entry could not be written");
        }
    }
}

fn export_view(
    record: ExportRecord,
    connection: &Connection,
    jobs: &HashMap<String, JobRecord>,
    last_run: Option<RunView>,
) -> AppResult<ExportView> {
    let spec = serde_json::from_value(record.spec.clone()).map_err(|e| {
        AppError::Io(format!(
            "the stored export cannot be read ({e}); save it again"
        ))
    })?;
    let schedule = crate::schedule::view_of(record.schedule.as_ref());
    let next_run_at = crate::schedule::next_run_at(
        jobs.get(&job_key(record.id)),
        schedule.is_some() && record.enabled,
        true,
    );
    Ok(ExportView {
        id: record.id,
        name: record.name,
        connection_id: connection.id,
        connection_name: connection.settings.name.as_str().to_owned(),
        connection_offline: matches!(connection.state, ConnectionState::Offline { .. }),
        spec,
        schedule,
        enabled: record.enabled,
        next_run_at,
        last_run,
        cursor: record.cursor,
        version: record.version,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

fn name_taken(e: StoreError, name: &str) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::ExportNameTaken {
            name: name.to_owned(),
        },
        other => other.into(),
    }
}

/// What changed, for the audit log.
fn export_changes(old: Option<&ExportRecord>, new: &ExportRecord) -> Vec<FieldChange> {
    let text = |v: &serde_json::Value| v.to_string();
    let fields: [(&str, Option<String>, String); 5] = [
        ("name", old.map(|o| o.name.clone()), new.name.clone()),
        (
            "connection",
            old.map(|o| o.connection_id.to_string()),
            new.connection_id.to_string(),
        ),
        ("spec", old.map(|o| text(&o.spec)), text(&new.spec)),
        (
            "schedule",
            old.map(|o| o.schedule.as_ref().map_or_else(|| "none".to_owned(), text)),
            new.schedule
                .as_ref()
                .map_or_else(|| "none".to_owned(), text),
        ),
        (
            "enabled",
            old.map(|o| o.enabled.to_string()),
            new.enabled.to_string(),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before.as_ref() != Some(after))
        .map(|(field, before, after)| FieldChange {
            field: field.to_owned(),
            before,
            after: Some(after),
            secret: false,
        })
        .collect()
}
