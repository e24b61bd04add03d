import fs from 'node:fs';

/**
 * Whether the process `pid` is running. A zombie (exited, not yet reaped by its parent; e.g. a
 * SIGKILLed detached daemon in a container whose PID 1 does not reap) holds no files or sockets, so
 * it counts as gone: on Linux its state is read from /proc; elsewhere signal 0 decides (EPERM
 * means it runs under another user).
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
