//! Saved import definitions: create, edit, show, list, delete.

use std::collections::HashMap;

use jiralink_domain::{
    AuditAction, Connection, ConnectionId, ConnectionState, FieldChange, ResourceKind,
};
use jiralink_store::{ImportRecord, JobRecord, NewJob, RunFilter, RunKind, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::jobs::{RUN_JOB, job_key};
use super::{ImportRunView, ImportSpec};
use crate::schedule::Schedule;
use crate::{Actor, App, AppError, AppResult};

/// What a user fills in to save an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportDraft {
    /// Unique among imports, compared without regard to case; 1–100 characters.
    pub name: String,
    /// The connection's name or id.
    pub connection: String,
    pub spec: ImportSpec,
    /// `None`: the import runs only when asked to. A schedule needs the import's own input
    /// file (`spec.input`).
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// A disabled import keeps its schedule but does not run by it.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A saved import as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    pub id: Uuid,
    pub name: String,
    pub connection_id: ConnectionId,
    pub connection_name: String,
    /// Whether the connection is offline now (its scheduled runs are skipped until it is
    /// back).
    pub connection_offline: bool,
    pub spec: ImportSpec,
    /// The ledger scope its runs use.
    pub ledger: String,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    /// When the import runs next by its schedule, if it will.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    pub last_run: Option<ImportRunView>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The ledger scope of a saved import: its own unless the spec names a shared one.
pub(crate) fn ledger_scope(record: &ImportRecord, spec: &ImportSpec) -> String {
    spec.ledger
        .clone()
        .unwrap_or_else(|| format!("import:{}", record.id))
}

impl App {
    /// Finds an import by id or by name (without regard to case).
    pub(crate) async fn find_import(&self, reference: &str) -> AppResult<ImportRecord> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: Uuid| store.get_import(id).await,
            async |name: &str| store.find_import_by_name(name.trim()).await,
            || AppError::ImportNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// Checks a draft without Jira: name, mapping, settings; every problem at once.
    async fn check_import_draft(
        &self,
        draft: &ImportDraft,
        editing: Option<Uuid>,
    ) -> AppResult<CheckedImport> {
        let mut problems = Vec::new();
        let name = draft.name.trim().to_owned();
        problems.extend(crate::exports::definition_name_problem(&name, "import"));
        if let Err(AppError::InvalidInput(e)) = draft.spec.parse_mapping() {
            problems.push(e);
        }
        if let Some(ledger) = &draft.spec.ledger
            && (ledger.trim().is_empty() || ledger.chars().count() > 100)
        {
            problems.push("the ledger name must have 1 to 100 characters".to_owned());
        }
        if let Some(schedule) = &draft.schedule {
            if let Err(e) = schedule.check() {
                problems.push(e);
            }
            if draft.spec.input.is_none() {
                problems.push(
                    "a scheduled import needs an input file of its own to read (spec.input, \
                     --input FILE); without one, run it when asked with the records at hand"
                        .to_owned(),
                );
            }
        }
        if !problems.is_empty() {
            return Err(AppError::InvalidInput(problems.join("; ")));
        }
        if let Some(other) = self.store().find_import_by_name(&name).await?
            && Some(other.id) != editing
        {
            return Err(AppError::ImportNameTaken { name });
        }
        let connection = self.find_connection(&draft.connection).await?;
        let spec = serde_json::to_value(&draft.spec)
            .map_err(|e| AppError::InvalidInput(format!("the import cannot be saved: {e}")))?;
        let schedule = draft
            .schedule
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| AppError::InvalidInput(format!("the schedule cannot be saved: {e}")))?;
        Ok(CheckedImport {
            name,
            connection,
            spec,
            schedule,
        })
    }

    /// Validates and saves a new import; schedules its first run when it has a schedule.
    ///
    /// # Errors
    /// `validation_failed`, `import_name_taken`, `connection_not_found`.
    pub async fn create_import(&self, draft: ImportDraft, actor: &Actor) -> AppResult<ImportView> {
        let checked = self.check_import_draft(&draft, None).await?;
        let now = self.now();
        let record = ImportRecord {
            id: Uuid::new_v4(),
            name: checked.name,
            connection_id: checked.connection.id,
            spec: checked.spec,
            schedule: checked.schedule,
            enabled: draft.enabled,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_import(&record)
            .await
            .map_err(|e| import_name_taken(e, &record.name))?;
        self.audit_import(
            actor,
            AuditAction::Create,
            &record,
            import_changes(None, &record),
        )
        .await;
        self.plan_import_schedule(&record, &draft.schedule).await?;
        tracing::info!(import = %record.id, "import created");
        self.get_import(&record.id.to_string()).await
    }

    /// Replaces an import's settings with a complete draft made from the import at `version`.
    ///
    /// # Errors
    /// `conflict` when it is at another version by now; as [`App::create_import`].
    pub async fn update_import(
        &self,
        reference: &str,
        draft: ImportDraft,
        version: u64,
        actor: &Actor,
    ) -> AppResult<ImportView> {
        let old = self.find_import(reference).await?;
        if old.version != version {
            return Err(crate::connections::conflict("import", version, old.version));
        }
        let checked = self.check_import_draft(&draft, Some(old.id)).await?;
        let record = ImportRecord {
            name: checked.name,
            connection_id: checked.connection.id,
            spec: checked.spec,
            schedule: checked.schedule,
            enabled: draft.enabled,
            updated_at: self.now(),
            ..old.clone()
        };
        match self.store().update_import(&record).await {
            Ok(_) => {}
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_import(old.id).await?.version;
                return Err(crate::connections::conflict("import", version, current));
            }
            Err(e) => return Err(import_name_taken(e, &record.name)),
        }
        self.audit_import(
            actor,
            AuditAction::Update,
            &record,
            import_changes(Some(&old), &record),
        )
        .await;
        self.plan_import_schedule(&record, &draft.schedule).await?;
        tracing::info!(import = %record.id, "import updated");
        self.get_import(&record.id.to_string()).await
    }

    /// One import with its last run.
    ///
    /// # Errors
    /// `import_not_found`.
    pub async fn get_import(&self, reference: &str) -> AppResult<ImportView> {
        let record = self.find_import(reference).await?;
        let connection = self.store().get_connection(record.connection_id).await?;
        let jobs = self.jobs_of_kind(RUN_JOB).await?;
        let last = self.last_import_run(record.id).await?;
        import_view(record, &connection, &jobs, last)
    }

    /// Every import, by name.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_imports(&self) -> AppResult<Vec<ImportView>> {
        let records = self.store().list_imports().await?;
        let connections: HashMap<ConnectionId, Connection> = self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let jobs = self.jobs_of_kind(RUN_JOB).await?;
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let Some(connection) = connections.get(&record.connection_id) else {
                continue;
            };
            let last = self.last_import_run(record.id).await?;
            views.push(import_view(record, connection, &jobs, last)?);
        }
        Ok(views)
    }

    /// Deletes an import with its runs and their results. Its ledger stays with the connection:
    /// an import saved again with the same ledger name still creates nothing twice.
    ///
    /// # Errors
    /// `import_not_found`.
    pub async fn delete_import(&self, reference: &str, actor: &Actor) -> AppResult<()> {
        let record = self.find_import(reference).await?;
        let flows = self.flows_using(record.id).await?;
        if !flows.is_empty() {
            return Err(AppError::InUse {
                what: "import",
                users: flows,
            });
        }
        self.store().delete_import(record.id).await?;
        self.audit_import(actor, AuditAction::Delete, &record, Vec::new())
            .await;
        // The job finds its import gone and deletes itself.
        self.store()
            .reschedule_job(&job_key(record.id), self.now())
            .await?;
        tracing::info!(import = %record.id, "import deleted");
        Ok(())
    }

    /// The import's newest run, if it has run.
    pub(crate) async fn last_import_run(&self, import: Uuid) -> AppResult<Option<ImportRunView>> {
        let run = self
            .store()
            .list_export_runs(&RunFilter {
                export_id: None,
                import_id: Some(import),
                kind: Some(RunKind::Import),
                connection_id: None,
                state: None,
                limit: 1,
            })
            .await?
            .into_iter()
            .next();
        Ok(run.map(|r| ImportRunView::of(r, None)))
    }

    /// Makes the import's job due at its next scheduled time (adding the job when missing).
    /// Without a schedule, or disabled, nothing is planned: a job left from an earlier
    /// schedule deletes itself when it comes due.
    async fn plan_import_schedule(
        &self,
        record: &ImportRecord,
        schedule: &Option<Schedule>,
    ) -> AppResult<()> {
        let Some(schedule) = schedule.as_ref().filter(|_| record.enabled) else {
            return Ok(());
        };
        let Some(next) = schedule.check().ok().and_then(|s| s.next_after(self.now())) else {
            return Ok(());
        };
        self.ensure_import_job(record.id, next).await
    }

    /// Adds the import's job unless it exists, and makes it due at `at`.
    pub(crate) async fn ensure_import_job(&self, id: Uuid, at: OffsetDateTime) -> AppResult<()> {
        self.ensure_definition_job(NewJob {
            kind: RUN_JOB.to_owned(),
            key: job_key(id),
            payload: serde_json::json!({ "importId": id }),
            next_run_at: at,
        })
        .await
    }

    async fn audit_import(
        &self,
        actor: &Actor,
        action: AuditAction,
        record: &ImportRecord,
        changes: Vec<FieldChange>,
    ) {
        let entry = self.audit_entry_for(
            actor,
            action,
            ResourceKind::Import,
            record.id,
            &record.name,
            changes,
        );
        if let Err(e) = self.store().append_audit(&entry).await {
            tracing::warn!(import = %record.id, error = %e, "the audit entry could not be written");
        }
    }
}

/// A draft checked against the store: what to save.
struct CheckedImport {
    name: String,
    connection: Connection,
    spec: serde_json::Value,
    schedule: Option<serde_json::Value>,
}

fn import_view(
    record: ImportRecord,
    connection: &Connection,
    jobs: &HashMap<String, JobRecord>,
    last_run: Option<ImportRunView>,
) -> AppResult<ImportView> {
    let spec: ImportSpec = serde_json::from_value(record.spec.clone()).map_err(|e| {
        AppError::Io(format!(
            "the stored import cannot be read ({e}); save it again"
        ))
    })?;
    let schedule = crate::schedule::view_of(record.schedule.as_ref());
    let next_run_at = crate::schedule::next_run_at(
        jobs.get(&job_key(record.id)),
        schedule.is_some() && record.enabled,
        false,
    );
    Ok(ImportView {
        ledger: ledger_scope(&record, &spec),
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
        version: record.version,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

fn import_name_taken(e: StoreError, name: &str) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::ImportNameTaken {
            name: name.to_owned(),
        },
        other => other.into(),
    }
}

/// What changed, for the audit log.
fn import_changes(old: Option<&ImportRecord>, new: &ImportRecord) -> Vec<FieldChange> {
    let schedule = |r: &ImportRecord| {
        r.schedule
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    };
    let fields: [(&str, Option<String>, String); 5] = [
        ("name", old.map(|o| o.name.clone()), new.name.clone()),
        (
            "connection",
            old.map(|o| o.connection_id.to_string()),
            new.connection_id.to_string(),
        ),
        (
            "spec",
            old.map(|o| o.spec.to_string()),
            new.spec.to_string(),
        ),
        ("schedule", old.map(schedule), schedule(new)),
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
