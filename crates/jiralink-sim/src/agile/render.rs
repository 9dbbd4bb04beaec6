//! The Sprint custom field (`customfield_10020`) in the platform's issue representation.

use crate::data::Issue;
use crate::platform::fields::FieldDef;
use crate::platform::json::{Obj, push_array};
use crate::platform::render::Render;

use super::model::{SPRINT_FIELD, SPRINT_FIELD_ID, SPRINT_TYPE};

/// The Sprint field as `GET /field` lists it.
pub fn sprint_field_def() -> FieldDef {
    FieldDef {
        id: SPRINT_FIELD.to_owned(),
        name: "Sprint".to_owned(),
        custom: true,
        custom_id: Some(SPRINT_FIELD_ID),
        schema_type: Some("array"),
        items: Some("json"),
        schema_key: SPRINT_TYPE.to_owned(),
        navigable: true,
        orderable: true,
        searchable: true,
        clause_names: vec![format!("cf[{SPRINT_FIELD_ID}]"), "Sprint".to_owned()],
        rendered: true,
    }
}

impl Render<'_> {
    /// The Sprint field of an issue: every sprint it is or was in (oldest first), `null` when
    /// none.
    pub fn sprint_field(&self, out: &mut String, issue: &Issue) {
        let agile = self.data.agile();
        let sprints: Vec<_> = agile.existing(&issue.sprints).collect();
        if sprints.is_empty() {
            out.push_str("null");
            return;
        }
        push_array(out, sprints, |out, s| {
            let mut o = Obj::new(out);
            o.num("id", s.id)
                .str("name", &s.name)
                .str("state", s.state.as_str())
                .num("boardId", s.board_id)
                .str("goal", &s.goal);
            for (key, at) in [
                ("startDate", s.start),
                ("endDate", s.end),
                ("completeDate", s.complete),
            ] {
                if let Some(ms) = at {
                    o.str(key, &super::datetime(ms));
                }
            }
            o.end();
        });
    }
}
