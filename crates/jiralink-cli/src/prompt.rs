//! Interactive prompts, on stderr, used only when stdin is a terminal and --no-input is off.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};
use zeroize::Zeroizing;

use crate::exit::CliError;

#[expect(clippy::needless_pass_by_value, reason = "used as a map_err function")]
fn cancelled(e: dialoguer::Error) -> CliError {
    CliError::Cancelled(format!("cancelled ({e})"))
}

pub(crate) fn text(label: &str, help: &str) -> Result<String, CliError> {
    eprintln!("{help}");
    Input::<String>::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact_text()
        .map_err(cancelled)
}

pub(crate) fn secret(label: &str, help: &str) -> Result<Zeroizing<String>, CliError> {
    eprintln!("{help}");
    Password::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .interact()
        .map(Zeroizing::new)
        .map_err(cancelled)
}

pub(crate) fn select(label: &str, items: &[String]) -> Result<usize, CliError> {
    Select::with_theme(&ColorfulTheme::default())
        .with_prompt(label)
        .items(items)
        .default(0)
        .interact()
        .map_err(cancelled)
}

pub(crate) fn multi_select(label: &str, items: &[String]) -> Result<Vec<usize>, CliError> {
    MultiSelect::with_theme(&ColorfulTheme::default())
        .with_prompt(format!("{label} (space selects, enter confirms)"))
        .items(items)
        .interact()
        .map_err(cancelled)
}

pub(crate) fn confirm(question: &str) -> Result<bool, CliError> {
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(cancelled)
}
