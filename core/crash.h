/* crash.h — crash points: the moments between two steps of the write protocol where a test
 * makes the process die, to check what recovery leaves (test/e2e/write_crash.bats).
 *
 * kv_crash_point("put.uploaded") names the step just done, OPERATION.STEP (write.c and
 * rename.c mark theirs; write_crash.bats fails when one of them is not exercised). In the
 * programs it compiles to nothing: production code carries no hook, no
 * getenv, no branch. Built with -DKV_CRASH_POINTS — only build/crashdrive, the test
 * driver, is — it ends the process with _exit(99) when the environment variable
 * TINYKV_CRASH_AT names the point: "NAME" at its first passage, "NAME:N" at its Nth (the
 * second key of a directory rename, say). _exit runs no cleanup, as a kill -9 would not:
 * intents, temporary uploads and half-sent requests stay as they are. With
 * TINYKV_CRASH_STOP also set, the process stops itself there instead (SIGSTOP): a writer
 * alive in the middle of its work, which goes on at SIGCONT.
 */
#ifndef KV_CRASH_H
#define KV_CRASH_H

#ifdef KV_CRASH_POINTS
void kv_crash_point(const char *name);
#else
#define kv_crash_point(name) ((void)0)
#endif

#endif
