//! OpenCode: it has no command hooks, only JS plugins, so csep ships one
//! (`plugin/opencode/csep.js`) and setup copies it into `<OpenCode config>/plugins/csep.js`
//! with this csep's binary and state directory written in. The plugin calls
//! `csep hook opencode SessionStart` (context appended to the system prompt) and
//! `csep hook opencode Stop` on `session.idle`.

use super::{write_recorded, HookTarget, Manifest};
use crate::error::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The plugin as shipped.
pub const PLUGIN: &str = include_str!("../../../plugin/opencode/csep.js");

/// The plugin's file name in `plugins/`.
pub const FILE_NAME: &str = "csep.js";

/// What the manifest's `added` says for the plugin.
pub const ADDED: &str = "opencode plugin";

#[derive(Debug, Clone, Serialize)]
pub struct OpenCodeReport {
    pub config_dir: String,
    pub plugin: String,
}

/// Where setup puts the plugin.
pub fn plugin_path(config_dir: &Path) -> PathBuf {
    config_dir.join("plugins").join(FILE_NAME)
}

/// The plugin with `target`'s binary and state directory in place of the shipped defaults.
pub fn render(target: &HookTarget) -> String {
    let q = |p: &Path| serde_json::Value::from(p.to_string_lossy()).to_string();
    PLUGIN
        .replacen(
            "const CSEP_BIN = \"csep\";",
            &format!("const CSEP_BIN = {};", q(&target.csep_bin)),
            1,
        )
        .replacen(
            "const CSEP_HOME = \"\";",
            &format!("const CSEP_HOME = {};", q(&target.state_dir)),
            1,
        )
}

/// Installs (or refreshes) the plugin.
pub fn install(
    config_dir: &Path,
    target: &HookTarget,
    rec_dir: &Path,
    manifest: &mut Manifest,
) -> Result<OpenCodeReport> {
    let path = plugin_path(config_dir);
    super::create_dir_recorded(manifest, &config_dir.join("plugins"))?;
    write_recorded(
        rec_dir,
        manifest,
        &path,
        render(target).as_bytes(),
        &[ADDED.to_string()],
    )?;
    Ok(OpenCodeReport {
        config_dir: config_dir.display().to_string(),
        plugin: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_plugin_names_this_csep_and_state_dir() {
        let t = HookTarget {
            csep_bin: "/opt/c\"sep".into(),
            state_dir: "/s".into(),
            script: "/s/bin/csep-hook.sh".into(),
        };
        let r = render(&t);
        assert!(r.contains(r#"const CSEP_BIN = "/opt/c\"sep";"#));
        assert!(r.contains(r#"const CSEP_HOME = "/s";"#));
        assert_ne!(r, PLUGIN);
    }
}
