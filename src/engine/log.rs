//! HAProxy-style daemon messages on stderr: `[WARNING]  (PID) : text`, `[ALERT]    (PID) :
//! text`, `[NOTICE]   (PID) : text`. Each line goes out in one write so concurrent messages do
//! not interleave. `quiet` (global `quiet` or `-q`) silences them, as HAProxy's MODE_QUIET.

use std::io::Write;

use super::state::EngineState;

fn emit(state: &EngineState, level: &str, msg: &str) {
    if state.quiet {
        return;
    }
    let line = format!("{level} ({}) : {msg}\n", state.pid);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn warning(state: &EngineState, msg: &str) {
    emit(state, "[WARNING] ", msg);
}

pub fn alert(state: &EngineState, msg: &str) {
    emit(state, "[ALERT]   ", msg);
}

pub fn notice(state: &EngineState, msg: &str) {
    emit(state, "[NOTICE]  ", msg);
}
