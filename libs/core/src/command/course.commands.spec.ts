/**
 * The DCB specification's examples (course subscriptions, unique usernames) as given/when/then
 * specifications: the testing kit with events in no stream, tags given and expected.
 */
import { AssertionError } from 'node:assert/strict';
import { BusinessRuleViolationError, CommandValidationError } from '../errors';
import { type EventHistory, given, type LoggedEvent } from '../testing/command-spec';
import { accountStream, Deposit } from './__fixtures__/bank.commands';
import {
  ChangeCourseCapacity,
  courseInvariantViolations,
  CourseRules,
  courseTag,
  DefineCourse,
  RegisterUsername,
  STUDENT_SUBSCRIPTION_LIMIT,
  studentTag,
  SubscribeStudentToCourse,
  UnsubscribeStudentFromCourse,
  usernameTag,
} from './__fixtures__/course.commands';

const defined = (courseId: string, capacity: number): LoggedEvent => ({
  type: 'CourseDefined',
  data: { courseId, capacity },
  tags: [courseTag(courseId)],
});

const subscribed = (studentId: string, courseId: string): LoggedEvent => ({
  type: 'StudentSubscribedToCourse',
  data: { courseId, studentId },
  tags: [studentTag(studentId), courseTag(courseId)],
});

const unsubscribed = (studentId: string, courseId: string): LoggedEvent => ({
  type: 'StudentUnsubscribedFromCourse',
  data: { courseId, studentId },
  tags: [studentTag(studentId), courseTag(courseId)],
});

const registered = (userId: string, username: string): LoggedEvent => ({
  type: 'UsernameRegistered',
  data: { userId, username },
  tags: [usernameTag(username)],
});

async function rule(outcome: Promise<Error>): Promise<string | undefined> {
  return ((await outcome) as BusinessRuleViolationError).rule;
}

describe('course subscriptions (dcb.events example)', () => {
  it('defines a course once', async () => {
    await given([])
      .when(new DefineCourse('c1', 10))
      .then([defined('c1', 10)]);
    expect(
      await rule(
        given([defined('c1', 10)])
          .when(new DefineCourse('c1', 20))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.alreadyDefined);
  });

  it('another course with another id is no obstacle', async () => {
    await given([defined('c2', 10)])
      .when(new DefineCourse('c1', 5))
      .then([defined('c1', 5)]);
  });

  it('subscribes a student: one event tagged with the student and the course', async () => {
    await given([defined('c1', 2)])
      .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', 'c1')]);
  });

  it('refuses a course that does not exist', async () => {
    expect(
      await rule(
        given([defined('c2', 2)])
          .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.notFound);
  });

  it('refuses a full course; a place freed by an unsubscription counts again', async () => {
    const full = [defined('c1', 1), subscribed('s2', 'c1')];
    expect(
      await rule(
        given(full)
          .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.full);
    await given([...full, unsubscribed('s2', 'c1')])
      .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', 'c1')]);
  });

  it('follows capacity changes', async () => {
    const history: EventHistory = [
      defined('c1', 1),
      subscribed('s2', 'c1'),
      { type: 'CourseCapacityChanged', data: { courseId: 'c1', capacity: 2 }, tags: ['course:c1'] },
    ];
    await given(history)
      .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', 'c1')]);
  });

  it('refuses a second subscription of the same student to the same course', async () => {
    expect(
      await rule(
        given([defined('c1', 5), subscribed('s1', 'c1')])
          .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.alreadySubscribed);
  });

  it(`refuses a student's subscription number ${STUDENT_SUBSCRIPTION_LIMIT + 1}; an unsubscription frees one`, async () => {
    const courses = Array.from({ length: STUDENT_SUBSCRIPTION_LIMIT + 1 }, (_, i) => `c${i}`);
    const history = [
      ...courses.map((id) => defined(id, 10)),
      ...courses.slice(0, -1).map((id) => subscribed('s1', id)),
    ];
    const last = courses.at(-1)!;
    expect(
      await rule(
        given(history)
          .when(new SubscribeStudentToCourse('s1', last, STUDENT_SUBSCRIPTION_LIMIT))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.subscriptionLimit);
    await given([...history, unsubscribed('s1', 'c0')])
      .when(new SubscribeStudentToCourse('s1', last, STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', last)]);
    // Other students' subscriptions are not this student's.
    await given([
      ...history.filter((e) => e.type === 'CourseDefined'),
      ...courses.map((id) => subscribed('s2', id)),
    ])
      .when(new SubscribeStudentToCourse('s1', last, STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', last)]);
  });

  it('unsubscribes a subscribed student only', async () => {
    await given([defined('c1', 5), subscribed('s1', 'c1')])
      .when(new UnsubscribeStudentFromCourse('s1', 'c1'))
      .then([unsubscribed('s1', 'c1')]);
    expect(
      await rule(
        given([defined('c1', 5), subscribed('s2', 'c1'), subscribed('s1', 'c2')])
          .when(new UnsubscribeStudentFromCourse('s1', 'c1'))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.notSubscribed);
  });

  it('changes the capacity, never below the students subscribed; the same capacity is a no-op', async () => {
    const history = [defined('c1', 5), subscribed('s1', 'c1'), subscribed('s2', 'c1')];
    await given(history)
      .when(new ChangeCourseCapacity('c1', 2))
      .then([
        {
          type: 'CourseCapacityChanged',
          data: { courseId: 'c1', capacity: 2 },
          tags: ['course:c1'],
        },
      ]);
    expect(
      await rule(
        given(history)
          .when(new ChangeCourseCapacity('c1', 1))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.capacityBelowSubscriptions);
    await given(history).when(new ChangeCourseCapacity('c1', 5)).thenNothing();
  });

  it('refuses ids that cannot make tags before reading', async () => {
    await given([])
      .when(new SubscribeStudentToCourse('S 1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .thenFails(CommandValidationError);
  });
});

describe('unique usernames (dcb.events example)', () => {
  it('registers a free username, also when others are taken', async () => {
    await given([registered('u2', 'bob')])
      .when(new RegisterUsername('u1', 'alice'))
      .then([registered('u1', 'alice')]);
  });

  it('refuses a username that is taken', async () => {
    expect(
      await rule(
        given([registered('u2', 'alice')])
          .when(new RegisterUsername('u1', 'alice'))
          .thenFails(BusinessRuleViolationError),
      ),
    ).toBe(CourseRules.usernameTaken);
  });
});

describe('the testing kit with tagged events', () => {
  it('a given stream event with tags is found by the query, like a stream-less one', async () => {
    // The side door: the course is defined in a stream, tagged; the query still sees it.
    await given([{ ...defined('c1', 1), streamId: 'courses' }, subscribed('s2', 'c1')])
      .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .thenFails(BusinessRuleViolationError, /is full/);
  });

  it('given events that the query does not match are not folded', async () => {
    await given([
      defined('c1', 1),
      { type: 'StudentSubscribedToCourse', data: { courseId: 'c1', studentId: 's2' }, tags: [] },
    ])
      .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
      .then([subscribed('s1', 'c1')]);
  });

  it('then([...]) compares tags: other tags, or none expected, fail the assertion', async () => {
    const run = () =>
      given([defined('c1', 1)]).when(
        new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT),
      );
    await expect(
      run().then([{ ...subscribed('s1', 'c1'), tags: [courseTag('c1'), studentTag('s1')] }]),
    ).rejects.toThrow(AssertionError);
    const { tags: _, ...untagged } = subscribed('s1', 'c1');
    await expect(run().then([untagged])).rejects.toThrow(AssertionError);
  });

  it('then([...]) tells events in no stream from events in a stream', async () => {
    await expect(
      given([defined('c1', 1)])
        .when(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT))
        .then([{ ...subscribed('s1', 'c1'), streamId: 'student-s1' }]),
    ).rejects.toThrow(AssertionError);
  });

  it('then([...]) names the stream of an event written to one', async () => {
    const account = accountStream('1');
    const run = () =>
      given([{ type: 'AccountOpened', data: { owner: 'a' }, streamId: account }]).when(
        new Deposit(account, 5),
      );
    const deposited = { type: 'MoneyDeposited', data: { amount: 5 } };
    await run().then([{ ...deposited, streamId: account }]);
    await expect(run().then([deposited])).rejects.toThrow(AssertionError);
  });

  it('then({ stream: [...] }) compares tags where the expectation names them', async () => {
    const account = accountStream('1');
    const history = { [account]: [{ type: 'AccountOpened', data: { owner: 'a' } }] };
    await given(history)
      .when(new Deposit(account, 5))
      .then({ [account]: [{ type: 'MoneyDeposited', data: { amount: 5 }, tags: [] }] });
    await expect(
      given(history)
        .when(new Deposit(account, 5))
        .then({ [account]: [{ type: 'MoneyDeposited', data: { amount: 5 }, tags: ['x'] }] }),
    ).rejects.toThrow(AssertionError);
  });
});

describe('courseInvariantViolations', () => {
  it('finds a course over capacity, a student over the limit, a double subscription and a double username', () => {
    const courses = Array.from({ length: STUDENT_SUBSCRIPTION_LIMIT + 1 }, (_, i) => `k${i}`);
    const log = [
      defined('c1', 1),
      subscribed('s1', 'c1'),
      subscribed('s2', 'c1'),
      subscribed('s1', 'c1'),
      ...courses.map((id) => defined(id, 5)),
      ...courses.map((id) => subscribed('s9', id)),
      registered('u1', 'alice'),
      registered('u2', 'alice'),
    ];
    expect(courseInvariantViolations(log)).toEqual([
      'c1 has 2 students, over its capacity',
      's1 subscribed twice to c1',
      'c1 has 2 students, over its capacity', // once per event that breaks it
      `s9 has ${STUDENT_SUBSCRIPTION_LIMIT + 1} subscriptions, over the limit`,
      'username alice registered twice',
    ]);
  });

  it('counts unsubscriptions and capacity changes', () => {
    expect(
      courseInvariantViolations([
        defined('c1', 1),
        subscribed('s1', 'c1'),
        unsubscribed('s1', 'c1'),
        subscribed('s2', 'c1'),
        { type: 'CourseCapacityChanged', data: { courseId: 'c1', capacity: 2 } },
        subscribed('s1', 'c1'),
      ]),
    ).toEqual([]);
  });
});
