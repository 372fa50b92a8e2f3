import request from 'supertest';
import { ALL_EVENTS, type EventStore } from '@eventcore/core';
import { seededRandom } from '@eventcore/core/testing';

/** The size of a contended run of the course sample. */
export interface CourseWorkload {
  readonly courses: number;
  readonly capacity: number;
  readonly students: number;
  /** The app's `maxSubscriptionsPerStudent`. */
  readonly limit: number;
  /** Subscriptions sent at once, each a different (student, course) pair. */
  readonly subscriptions: number;
  readonly seed: number;
}

/** What the run saw: answers by code, and every violation found in the log. */
export interface CourseReport {
  readonly byCode: Record<string, number>;
  readonly subscribed: number;
  readonly violations: string[];
}

/**
 * Defines the courses, then sends every subscription at once (all in flight together) and checks
 * the log the store holds afterwards: no course over its capacity, no student over the limit, no
 * pair twice, every 201 answer has its event and every refused one has none. Answers other than
 * 201 must be the two capacity rules, or a retryable 503 after exhausted retries.
 */
export async function runContendedSubscriptions(
  url: string,
  store: EventStore,
  workload: CourseWorkload,
): Promise<CourseReport> {
  const random = seededRandom(workload.seed);
  for (let c = 0; c < workload.courses; c++) {
    await request(url)
      .post('/courses')
      .send({ courseId: `c${c}`, capacity: workload.capacity })
      .expect(201);
  }
  const pairs: { studentId: string; courseId: string }[] = [];
  for (let s = 0; s < workload.students; s++) {
    for (let c = 0; c < workload.courses; c++)
      pairs.push({ studentId: `s${s}`, courseId: `c${c}` });
  }
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
  }
  const sent = pairs.slice(0, workload.subscriptions);
  if (sent.length < workload.subscriptions) throw new Error('not enough distinct pairs');

  const answers = await Promise.all(
    sent.map(({ studentId, courseId }) =>
      request(url).post(`/courses/${courseId}/subscriptions`).send({ studentId }),
    ),
  );

  const byCode: Record<string, number> = {};
  const violations: string[] = [];
  const key = (studentId: string, courseId: string) => `${studentId}/${courseId}`;
  const written = new Map<string, number>();
  const perCourse = new Map<string, number>();
  const perStudent = new Map<string, number>();
  for (const event of (await store.read(ALL_EVENTS)).events) {
    if (event.type !== 'StudentSubscribedToCourse') continue;
    const { studentId, courseId } = event.data as { studentId: string; courseId: string };
    written.set(key(studentId, courseId), (written.get(key(studentId, courseId)) ?? 0) + 1);
    perCourse.set(courseId, (perCourse.get(courseId) ?? 0) + 1);
    perStudent.set(studentId, (perStudent.get(studentId) ?? 0) + 1);
  }
  for (const [courseId, count] of perCourse) {
    if (count > workload.capacity) violations.push(`${courseId} holds ${count} students`);
  }
  for (const [studentId, count] of perStudent) {
    if (count > workload.limit) violations.push(`${studentId} holds ${count} courses`);
  }
  answers.forEach((answer, i) => {
    const { studentId, courseId } = sent[i]!;
    const events = written.get(key(studentId, courseId)) ?? 0;
    const code = answer.status === 201 ? 'created' : String(answer.body.code);
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (events !== (answer.status === 201 ? 1 : 0)) {
      violations.push(`${studentId} → ${courseId} answered ${answer.status}, ${events} events`);
    }
    const expected =
      answer.status === 201 ||
      (answer.status === 409 && ['course.full', 'student.subscription_limit'].includes(code)) ||
      (answer.status === 503 &&
        code === 'eventcore.retries_exhausted' &&
        answer.headers['retry-after'] !== undefined);
    if (!expected)
      violations.push(`${studentId} → ${courseId}: unexpected answer ${answer.status} ${code}`);
  });
  return { byCode, subscribed: byCode.created ?? 0, violations };
}

/**
 * Sends `registrations` registrations of one username at once, from different users; answers by
 * code (`created` for 201), the users answered 201, and the users of the registrations in the log.
 */
export async function raceForUsername(
  url: string,
  store: EventStore,
  username: string,
  registrations: number,
): Promise<{ byCode: Record<string, number>; winners: string[]; registered: string[] }> {
  const answers = await Promise.all(
    Array.from({ length: registrations }, (_, i) =>
      request(url)
        .post('/usernames')
        .send({ userId: `u${i}`, username }),
    ),
  );
  const byCode: Record<string, number> = {};
  const winners: string[] = [];
  answers.forEach((answer, i) => {
    const code = answer.status === 201 ? 'created' : `${answer.status} ${answer.body.code}`;
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (answer.status === 201) winners.push(`u${i}`);
  });
  const { events } = await store.read({ items: [{ tags: [`username:${username}`] }] });
  return {
    byCode,
    winners,
    registered: events.map((e) => (e.data as { userId: string }).userId),
  };
}
