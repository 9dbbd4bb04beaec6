//! Saved import definitions: create, edit, show, list, delete.

use std::collections::HashMap;

use jiralink_domain::{AuditAction, Connection, ConnectionId, FieldChange, ResourceKind};
use jiralink_store::{ImportRecord, RunFilter, RunKind, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ImportRunView, ImportSpec};
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
}

/// A saved import as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    pub id: Uuid,
    pub name: String,
    pub connection_id: ConnectionId,
    pub connection_name: String,
    pub spec: ImportSpec,
    /// The ledger scope its runs use.
    pub ledger: String,
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
    ) -> AppResult<(String, Connection, serde_json::Value)> {
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
        Ok((name, connection, spec))
    }

    /// Validates and saves a new import.
    ///
    /// # Errors
    /// `validation_failed`, `import_name_taken`, `connection_not_found`.
    pub async fn create_import(&self, draft: ImportDraft, actor: &Actor) -> AppResult<ImportView> {
        let (name, connection, spec) = self.check_import_draft(&draft, None).await?;
        let now = self.now();
        let record = ImportRecord {
            id: Uuid::new_v4(),
            name,
            connection_id: connection.id,
            spec,
            schedule: None,
            enabled: true,
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
        let (name, connection, spec) = self.check_import_draft(&draft, Some(old.id)).await?;
        let record = ImportRecord {
            name,
            connection_id: connection.id,
            spec,
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
        self.get_import(&record.id.to_string()).await
    }

    /// One import with its last run.
    ///
    /// # Errors
    /// `import_not_found`.
    pub async fn get_import(&self, reference: &str) -> AppResult<ImportView> {
        let record = self.find_import(reference).await?;
        let connection = self.store().get_connection(record.connection_id).await?;
        let last = self.last_import_run(record.id).await?;
        import_view(record, &connection, last)
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
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let Some(connection) = connections.get(&record.connection_id) else {
                continue;
            };
            let last = self.last_import_run(record.id).await?;
            views.push(import_view(record, connection, last)?);
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
            return Err(AppError::InvalidInput(format!(
                "the import is used by {}; delete or change them first",
                flows.join(", ")
            )));
        }
        self.store().delete_import(record.id).await?;
        self.audit_import(actor, AuditAction::Delete, &record, Vec::new())
            .await;
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
                limit: 1,
            })
            .await?
            .into_iter()
            .next();
        Ok(run.map(|r| ImportRunView::of(r, None)))
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

fn import_view(
    record: ImportRecord,
    connection: &Connection,
    last_run: Option<ImportRunView>,
) -> AppResult<ImportView> {
    let spec: ImportSpec = serde_json::from_value(record.spec.clone()).map_err(|e| {
        AppError::Io(format!(
            "the stored import cannot be read ({e}); save it again"
        ))
    })?;
    Ok(ImportView {
        ledger: ledger_scope(&record, &spec),
        id: record.id,
        name: record.name,
        connection_id: connection.id,
        connection_name: connection.settings.name.as_str().to_owned(),
        spec,
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
    let fields: [(&str, Option<String>, String); 3] = [
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
