//! Process signals, as HAProxy 2.6 handles them in the foreground:
//! - SIGTERM / SIGINT: hard stop, every connection closed now (exit code 143 / 130, what
//!   haproxy 2.6.12 -db returns, i.e. 128 + signal).
//! - SIGUSR1: soft stop: listeners close, "Proxy X stopped" is printed, and the process exits
//!   (code 0) once the live connections have ended, or when `hard-stop-after` expires.
//! - SIGUSR2 / SIGHUP: a master-worker reload in HAProxy. haproxide has no master process
//!   yet, so it says so and keeps serving the current configuration, rather than letting the
//!   default action kill the process.

use tokio::signal::unix::{signal, SignalKind};

use super::state::StopLevel;
use super::RunningEngine;

/// Serves until a signal stops the engine; returns the process exit code.
pub async fn run_until_signal(engine: &RunningEngine) -> anyhow::Result<i32> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut hup = signal(SignalKind::hangup())?;
    let state = engine.state.clone();
    loop {
        tokio::select! {
            _ = term.recv() => {
                engine.hard_stop();
                return Ok(128 + libc::SIGTERM);
            }
            _ = int.recv() => {
                engine.hard_stop();
                return Ok(128 + libc::SIGINT);
            }
            _ = usr1.recv() => engine.soft_stop(),
            _ = usr2.recv() => reload_refused(&state, "SIGUSR2"),
            _ = hup.recv() => reload_refused(&state, "SIGHUP"),
            // A soft stop that finished draining (or a stop requested in-process).
            _ = state.stopped(StopLevel::Hard) => return Ok(0),
        }
    }
}

fn reload_refused(state: &super::state::EngineState, sig: &str) {
    super::log::warning(state, &format!(
        "{sig} received: reloading (master-worker mode) is not supported by haproxide yet; still serving the current configuration."
    ));
}
