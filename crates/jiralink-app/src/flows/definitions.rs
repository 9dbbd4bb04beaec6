//! Saved flows: create, edit, show, list, delete.

use jiralink_domain::ConnectionId;
use jiralink_store::{ExportRecord, FlowRecord, ImportRecord, StoreError};
use jiralink_sync::import::ImportOperation;
use jiralink_sync::{ExportSpec, Format, Resource};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::FlowRunView;
use crate::exports::Schedule;
use crate::imports::ImportSpec;
use crate::{App, AppError, AppResult};

/// What a user fills in to save a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowDraft {
    /// Unique among flows, compared without regard to case; 1–100 characters.
    pub name: String,
    /// The saved export's name or id: where records come from.
    pub export: String,
    /// The saved import's name or id: where they go.
    pub import: String,
    /// When it runs by itself; `None`: only when asked.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// A disabled flow keeps its schedule but does not run by it.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

fn enabled_default() -> bool {
    true
}

/// A saved flow as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    pub id: Uuid,
    pub name: String,
    pub export_id: Uuid,
    pub export_name: String,
    pub import_id: Uuid,
    pub import_name: String,
    /// The export's connection.
    pub source_connection_id: ConnectionId,
    /// The import's connection.
    pub target_connection_id: ConnectionId,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    /// When the schedule runs it next (`None` without one, or when disabled).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    pub last_run: Option<FlowRunView>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Why an export and an import cannot make a flow; every problem at once.
pub(crate) fn pair_problems(export: &ExportRecord, import: &ImportRecord) -> Vec<String> {
    let mut problems = Vec::new();
    match serde_json::from_value::<ExportSpec>(export.spec.clone()) {
        Ok(spec) => {
            if spec.resource != Resource::Issues {
                problems.push(format!(
                    "the export {:?} reads {}: a flow's export reads issues",
                    export.name,
                    spec.resource.as_str()
                ));
            }
            if spec.deletions {
                problems.push(format!(
                    "the export {:?} sends deletions: a flow copies issues, not their deletion \
                     (turn --deletions off)",
                    export.name
                ));
            }
            if spec.comments && spec.adf != jiralink_sync::AdfMode::Raw {
                problems.push(format!(
                    "the export {:?} writes rich text as text or Markdown: a flow copies \
                     comments as ADF (--adf raw)",
                    export.name
                ));
            }
            if spec.format == Format::Csv {
                problems.push(format!(
                    "the export {:?} writes CSV: a flow's export writes NDJSON or a JSON array \
                     (its records keep their structure)",
                    export.name
                ));
            }
        }
        Err(e) => problems.push(format!(
            "the export {:?} cannot be read ({e}); save it again",
            export.name
        )),
    }
    match serde_json::from_value::<ImportSpec>(import.spec.clone()) {
        Ok(spec) => match spec.parse_mapping() {
            Ok(mapping) => {
                if mapping.operation != ImportOperation::Upsert {
                    problems.push(format!(
                        "the import {:?} is not an upsert: a flow updates the copies it made \
                         and creates the others (operation = \"upsert\")",
                        import.name
                    ));
                }
                if mapping.ignore_existing {
                    problems.push(format!(
                        "the import {:?} ignores existing issues: a flow updates its copies \
                         (ignore_existing = false)",
                        import.name
                    ));
                }
                if mapping.actions.attachments.is_some() {
                    problems.push(format!(
                        "the import {:?} uploads attachments from a directory, which a flow \
                         has not: remove actions.attachments",
                        import.name
                    ));
                }
                if mapping.key.is_some() {
                    problems.push(format!(
                        "the import {:?} names a key: a flow finds the copies itself, through \
                         its id map; remove key from the mapping",
                        import.name
                    ));
                }
                if mapping.external_id.is_none() {
                    problems.push(format!(
                        "the import {:?} has no [external_id]: a flow needs one (e.g. source = \
                         \"key\", label_prefix = \"from-\") so that no record is created twice",
                        import.name
                    ));
                }
                if mapping.service.resource != jiralink_sync::import::Resource::Issues {
                    problems.push(format!(
                        "the import {:?} writes Service Management records: a flow's import \
                         writes issues",
                        import.name
                    ));
                }
            }
            Err(AppError::InvalidInput(e)) => problems.push(e),
            Err(e) => problems.push(e.to_string()),
        },
        Err(e) => problems.push(format!(
            "the import {:?} cannot be read ({e}); save it again",
            import.name
        )),
    }
    problems
}

impl App {
    /// Finds a flow by id or by name (without regard to case).
    pub(crate) async fn find_flow(&self, reference: &str) -> AppResult<FlowRecord> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: Uuid| store.get_flow(id).await,
            async |name: &str| store.find_flow_by_name(name.trim()).await,
            || AppError::FlowNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// Checks a draft: name, schedule, and that the export and the import make a flow.
    async fn check_flow_draft(
        &self,
        draft: &FlowDraft,
        editing: Option<Uuid>,
    ) -> AppResult<(
        String,
        ExportRecord,
        ImportRecord,
        Option<serde_json::Value>,
    )> {
        let mut problems = Vec::new();
        let name = draft.name.trim().to_owned();
        problems.extend(crate::exports::definition_name_problem(&name, "flow"));
        if let Some(schedule) = &draft.schedule
            && let Err(e) = schedule.check()
        {
            problems.push(e);
        }
        let export = self.find_export(&draft.export).await?;
        let import = self.find_import(&draft.import).await?;
        problems.extend(pair_problems(&export, &import));
        if !problems.is_empty() {
            return Err(AppError::InvalidInput(problems.join("; ")));
        }
        if let Some(other) = self.store().find_flow_by_name(&name).await?
            && Some(other.id) != editing
        {
            return Err(AppError::FlowNameTaken { name });
        }
        let schedule = draft
            .schedule
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| AppError::InvalidInput(format!("the schedule cannot be saved: {e}")))?;
        Ok((name, export, import, schedule))
    }

    /// Validates and saves a new flow; with a schedule, its first run is planned.
    ///
    /// # Errors
    /// `validation_failed`, `flow_name_taken`, `export_not_found`, `import_not_found`.
    pub async fn create_flow(&self, draft: FlowDraft) -> AppResult<FlowView> {
        let (name, export, import, schedule) = self.check_flow_draft(&draft, None).await?;
        let now = self.now();
        let record = FlowRecord {
            id: Uuid::new_v4(),
            name,
            export_id: export.id,
            import_id: import.id,
            schedule,
            enabled: draft.enabled,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_flow(&record)
            .await
            .map_err(|e| flow_name_taken(e, &record.name))?;
        self.plan_flow_job(&record).await?;
        tracing::info!(flow = %record.id, "flow created");
        self.get_flow(&record.id.to_string()).await
    }

    /// Replaces a flow's settings with a complete draft made from the flow at `version`.
    ///
    /// # Errors
    /// `conflict` when it is at another version by now; as [`App::create_flow`].
    pub async fn update_flow(
        &self,
        reference: &str,
        draft: FlowDraft,
        version: u64,
    ) -> AppResult<FlowView> {
        let old = self.find_flow(reference).await?;
        if old.version != version {
            return Err(crate::connections::conflict("flow", version, old.version));
        }
        let (name, export, import, schedule) = self.check_flow_draft(&draft, Some(old.id)).await?;
        let record = FlowRecord {
            name,
            export_id: export.id,
            import_id: import.id,
            schedule,
            enabled: draft.enabled,
            updated_at: self.now(),
            ..old.clone()
        };
        match self.store().update_flow(&record).await {
            Ok(_) => {}
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_flow(old.id).await?.version;
                return Err(crate::connections::conflict("flow", version, current));
            }
            Err(e) => return Err(flow_name_taken(e, &record.name)),
        }
        self.plan_flow_job(&record).await?;
        self.get_flow(&record.id.to_string()).await
    }

    /// One flow with its last run.
    ///
    /// # Errors
    /// `flow_not_found`.
    pub async fn get_flow(&self, reference: &str) -> AppResult<FlowView> {
        let record = self.find_flow(reference).await?;
        self.flow_view(record).await
    }

    /// Every flow, by name.
    ///
    /// # Errors
    /// A store error.
    pub async fn list_flows(&self) -> AppResult<Vec<FlowView>> {
        let mut views = Vec::new();
        for record in self.store().list_flows().await? {
            views.push(self.flow_view(record).await?);
        }
        Ok(views)
    }

    /// Deletes a flow and its run history; refused (`in_use`) while a listener feeds it.
    /// Its export and import stay, and so does the id map
    /// (it belongs to the two connections: a flow saved again between them goes on from it).
    ///
    /// # Errors
    /// `flow_not_found`.
    pub async fn delete_flow(&self, reference: &str) -> AppResult<()> {
        let record = self.find_flow(reference).await?;
        let users = self.listeners_feeding(record.id).await?;
        if !users.is_empty() {
            return Err(AppError::InUse {
                what: "flow",
                users,
            });
        }
        self.store().delete_flow(record.id).await?;
        self.forget_flow_job(record.id).await?;
        tracing::info!(flow = %record.id, "flow deleted");
        Ok(())
    }

    /// The names of the flows using an export or an import (by its id), for refusals.
    pub(crate) async fn flows_using(&self, definition: Uuid) -> AppResult<Vec<String>> {
        Ok(self
            .store()
            .list_flows()
            .await?
            .into_iter()
            .filter(|f| f.export_id == definition || f.import_id == definition)
            .map(|f| format!("flow {:?}", f.name))
            .collect())
    }

    async fn flow_view(&self, record: FlowRecord) -> AppResult<FlowView> {
        let export = self.store().get_export(record.export_id).await?;
        let import = self.store().get_import(record.import_id).await?;
        let schedule = crate::schedule::view_of(record.schedule.as_ref());
        let jobs = self.jobs_of_kind(super::RUN_JOB).await?;
        let next_run_at = crate::schedule::next_run_at(
            jobs.get(&super::jobs::job_key(record.id)),
            record.enabled && schedule.is_some(),
            true,
        );
        let last_run = self
            .store()
            .list_flow_runs(Some(record.id), 1)
            .await?
            .into_iter()
            .next()
            .map(|r| FlowRunView::of(r, Some(record.name.clone())));
        Ok(FlowView {
            id: record.id,
            name: record.name,
            export_id: export.id,
            export_name: export.name,
            import_id: import.id,
            import_name: import.name,
            source_connection_id: export.connection_id,
            target_connection_id: import.connection_id,
            schedule,
            enabled: record.enabled,
            next_run_at,
            last_run,
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

fn flow_name_taken(e: StoreError, name: &str) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::FlowNameTaken {
            name: name.to_owned(),
        },
        other => other.into(),
    }
}
