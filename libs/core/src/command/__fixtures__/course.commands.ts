/**
 * The two examples of the DCB specification (dcb.events), as EventCore commands whose consistency
 * boundary is a query instead of a stream: shared by the executor's tests and the courses sample.
 *
 * - **Course subscriptions.** A course has a capacity; a student may hold at most
 *   {@link STUDENT_SUBSCRIPTION_LIMIT} subscriptions. A subscription reads the events of the course
 *   and of the student, and writes one event tagged with both, so that a concurrent subscription
 *   to the same course *or* by the same student fails the append condition, while subscriptions of
 *   other students to other courses never touch each other. No stream per course or per student,
 *   and no aggregate holding both.
 * - **Unique usernames.** A registration reads the events tagged with the username; when there are
 *   none, the append condition has no `after`: it fails if any such event exists at all.
 *
 * Events carry their ids in `data` as well as in their tags: tags are for finding events, data for
 * folding them.
 */
import { IsInt, Matches, Max, Min } from 'class-validator';
import type { DomainEvent, RecordedEvent } from '../../events/event';
import { item, query } from '../boundary-query';
import { Boundary, Command } from '../command.decorators';
import type { CommandContext, CommandLogic } from '../command-logic';

/** Ids of courses, students and users: lower-case letters, digits and dashes. */
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,49}$/;
/** Usernames: 3 to 32 lower-case letters, digits and underscores. */
const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/;

/** Most courses one student may be subscribed to at a time. */
export const STUDENT_SUBSCRIPTION_LIMIT = 5;

/** The tag of the events of one course. */
export function courseTag(courseId: string): string {
  return `course:${courseId}`;
}

/** The tag of the events of one student. */
export function studentTag(studentId: string): string {
  return `student:${studentId}`;
}

/** The tag of the events that claim one username. */
export function usernameTag(username: string): string {
  return `username:${username}`;
}

/** The events of the course example. */
export type CourseEvent =
  | DomainEvent<'CourseDefined', { courseId: string; capacity: number }>
  | DomainEvent<'CourseCapacityChanged', { courseId: string; capacity: number }>
  | DomainEvent<'StudentSubscribedToCourse', { courseId: string; studentId: string }>
  | DomainEvent<'StudentUnsubscribedFromCourse', { courseId: string; studentId: string }>;

/** The event of the username example. */
export type UsernameEvent = DomainEvent<'UsernameRegistered', { userId: string; username: string }>;

/** Stable identifiers of the rules the commands enforce (`BusinessRuleViolationError.rule`). */
export const CourseRules = {
  alreadyDefined: 'course.already_defined',
  notFound: 'course.not_found',
  full: 'course.full',
  capacityBelowSubscriptions: 'course.capacity_below_subscriptions',
  alreadySubscribed: 'course.already_subscribed',
  notSubscribed: 'course.not_subscribed',
  subscriptionLimit: 'student.subscription_limit',
  usernameTaken: 'username.taken',
} as const;

/** One course as its events describe it. */
export interface CourseState {
  readonly defined: boolean;
  readonly capacity: number;
  /** Ids of the students subscribed now. */
  readonly students: readonly string[];
}

/** A course that was never defined. */
export const noCourse: CourseState = { defined: false, capacity: 0, students: [] };

/** Folds one event of a course (one tagged with its course tag) into its state. */
export function evolveCourse(state: CourseState, event: RecordedEvent<CourseEvent>): CourseState {
  switch (event.type) {
    case 'CourseDefined':
    case 'CourseCapacityChanged':
      return { ...state, defined: true, capacity: event.data.capacity };
    case 'StudentSubscribedToCourse':
      return { ...state, students: [...state.students, event.data.studentId] };
    case 'StudentUnsubscribedFromCourse':
      return { ...state, students: state.students.filter((id) => id !== event.data.studentId) };
  }
}

/** The course event types that a course's state depends on. */
const COURSE_EVENT_TYPES = [
  'CourseDefined',
  'CourseCapacityChanged',
  'StudentSubscribedToCourse',
  'StudentUnsubscribedFromCourse',
] as const;

/** Defines a course with its capacity; a course id is defined once. */
@Command()
export class DefineCourse implements CommandLogic<boolean, CourseEvent> {
  @Matches(ID_PATTERN) courseId: string;
  @IsInt() @Min(1) @Max(10_000) capacity: number;

  constructor(courseId: string, capacity: number) {
    this.courseId = courseId;
    this.capacity = capacity;
  }

  @Boundary()
  boundary() {
    return query(item({ types: ['CourseDefined'], tags: [courseTag(this.courseId)] }));
  }

  initialState(): boolean {
    return false;
  }

  apply(): boolean {
    return true; // the boundary matches only the course's definition
  }

  handle(defined: boolean, ctx: CommandContext<CourseEvent, DefineCourse>): void {
    ctx.require(!defined, `course ${this.courseId} already exists`, CourseRules.alreadyDefined);
    ctx.append({
      type: 'CourseDefined',
      data: { courseId: this.courseId, capacity: this.capacity },
      tags: [courseTag(this.courseId)],
    });
  }
}

/** Changes a course's capacity, never below its current number of students; same capacity: no-op. */
@Command()
export class ChangeCourseCapacity implements CommandLogic<CourseState, CourseEvent> {
  @Matches(ID_PATTERN) courseId: string;
  @IsInt() @Min(1) @Max(10_000) capacity: number;

  constructor(courseId: string, capacity: number) {
    this.courseId = courseId;
    this.capacity = capacity;
  }

  @Boundary()
  boundary() {
    return query(item({ types: COURSE_EVENT_TYPES, tags: [courseTag(this.courseId)] }));
  }

  initialState(): CourseState {
    return noCourse;
  }

  apply(state: CourseState, event: RecordedEvent<CourseEvent>): CourseState {
    return evolveCourse(state, event);
  }

  handle(state: CourseState, ctx: CommandContext<CourseEvent, ChangeCourseCapacity>): void {
    ctx.require(state.defined, `course ${this.courseId} does not exist`, CourseRules.notFound);
    ctx.require(
      this.capacity >= state.students.length,
      `course ${this.courseId} has ${state.students.length} students, more than ${this.capacity}`,
      CourseRules.capacityBelowSubscriptions,
    );
    if (this.capacity === state.capacity) return;
    ctx.append({
      type: 'CourseCapacityChanged',
      data: { courseId: this.courseId, capacity: this.capacity },
      tags: [courseTag(this.courseId)],
    });
  }
}

/** What a subscription decides on: the course, and the courses of the student. */
export interface SubscriptionState {
  readonly course: CourseState;
  /** Ids of the courses the student is subscribed to now. */
  readonly courses: readonly string[];
}

/**
 * Subscribes a student to a course: the course must exist and have a free place, and the student
 * must be below {@link STUDENT_SUBSCRIPTION_LIMIT}. The boundary is the course's events and the
 * student's subscriptions; the event is tagged with both, so it is in the boundary of every later
 * decision about either.
 */
@Command()
export class SubscribeStudentToCourse implements CommandLogic<SubscriptionState, CourseEvent> {
  @Matches(ID_PATTERN) studentId: string;
  @Matches(ID_PATTERN) courseId: string;

  constructor(studentId: string, courseId: string) {
    this.studentId = studentId;
    this.courseId = courseId;
  }

  @Boundary()
  boundary() {
    return query(
      item({ types: COURSE_EVENT_TYPES, tags: [courseTag(this.courseId)] }),
      item({
        types: ['StudentSubscribedToCourse', 'StudentUnsubscribedFromCourse'],
        tags: [studentTag(this.studentId)],
      }),
    );
  }

  initialState(): SubscriptionState {
    return { course: noCourse, courses: [] };
  }

  apply(state: SubscriptionState, event: RecordedEvent<CourseEvent>): SubscriptionState {
    // An event may be both the course's and the student's (this student in this course).
    const course =
      event.data.courseId === this.courseId ? evolveCourse(state.course, event) : state.course;
    if (!('studentId' in event.data) || event.data.studentId !== this.studentId) {
      return { ...state, course };
    }
    const courseId = event.data.courseId;
    const courses =
      event.type === 'StudentSubscribedToCourse'
        ? [...state.courses, courseId]
        : state.courses.filter((id) => id !== courseId);
    return { course, courses };
  }

  handle(
    state: SubscriptionState,
    ctx: CommandContext<CourseEvent, SubscribeStudentToCourse>,
  ): void {
    const { course } = state;
    ctx.require(course.defined, `course ${this.courseId} does not exist`, CourseRules.notFound);
    ctx.require(
      !course.students.includes(this.studentId),
      `student ${this.studentId} is already subscribed to course ${this.courseId}`,
      CourseRules.alreadySubscribed,
    );
    ctx.require(
      course.students.length < course.capacity,
      `course ${this.courseId} is full (${course.capacity} students)`,
      CourseRules.full,
    );
    ctx.require(
      state.courses.length < STUDENT_SUBSCRIPTION_LIMIT,
      `student ${this.studentId} already has ${STUDENT_SUBSCRIPTION_LIMIT} subscriptions`,
      CourseRules.subscriptionLimit,
    );
    ctx.append({
      type: 'StudentSubscribedToCourse',
      data: { courseId: this.courseId, studentId: this.studentId },
      tags: [studentTag(this.studentId), courseTag(this.courseId)],
    });
  }
}

/** Ends a student's subscription to a course, freeing a place in it and one of the student's. */
@Command()
export class UnsubscribeStudentFromCourse implements CommandLogic<boolean, CourseEvent> {
  @Matches(ID_PATTERN) studentId: string;
  @Matches(ID_PATTERN) courseId: string;

  constructor(studentId: string, courseId: string) {
    this.studentId = studentId;
    this.courseId = courseId;
  }

  /** This student's subscriptions to this course: the events carrying both tags. */
  @Boundary()
  boundary() {
    return query(
      item({
        types: ['StudentSubscribedToCourse', 'StudentUnsubscribedFromCourse'],
        tags: [studentTag(this.studentId), courseTag(this.courseId)],
      }),
    );
  }

  initialState(): boolean {
    return false;
  }

  apply(_subscribed: boolean, event: RecordedEvent<CourseEvent>): boolean {
    return event.type === 'StudentSubscribedToCourse';
  }

  handle(
    subscribed: boolean,
    ctx: CommandContext<CourseEvent, UnsubscribeStudentFromCourse>,
  ): void {
    ctx.require(
      subscribed,
      `student ${this.studentId} is not subscribed to course ${this.courseId}`,
      CourseRules.notSubscribed,
    );
    ctx.append({
      type: 'StudentUnsubscribedFromCourse',
      data: { courseId: this.courseId, studentId: this.studentId },
      tags: [studentTag(this.studentId), courseTag(this.courseId)],
    });
  }
}

/**
 * Claims a username for a user; a username is claimed once. The first registration reads no
 * event, so its append condition has no `after`: any registration of the name stored meanwhile
 * fails it.
 */
@Command()
export class RegisterUsername implements CommandLogic<boolean, UsernameEvent> {
  @Matches(ID_PATTERN) userId: string;
  @Matches(USERNAME_PATTERN) username: string;

  constructor(userId: string, username: string) {
    this.userId = userId;
    this.username = username;
  }

  @Boundary()
  boundary() {
    return query(item({ types: ['UsernameRegistered'], tags: [usernameTag(this.username)] }));
  }

  initialState(): boolean {
    return false;
  }

  apply(): boolean {
    return true;
  }

  handle(taken: boolean, ctx: CommandContext<UsernameEvent, RegisterUsername>): void {
    ctx.require(!taken, `username ${this.username} is taken`, CourseRules.usernameTaken);
    ctx.append({
      type: 'UsernameRegistered',
      data: { userId: this.userId, username: this.username },
      tags: [usernameTag(this.username)],
    });
  }
}

/**
 * The invariants of the course example checked over a whole log (events in log order): no course
 * ever over its capacity, no student ever over {@link STUDENT_SUBSCRIPTION_LIMIT}, nobody
 * subscribed twice to one course, no username registered twice. Returns one line per violation;
 * none when they hold.
 */
export function courseInvariantViolations(
  events: readonly { readonly type: string; readonly data: unknown }[],
): string[] {
  const capacities = new Map<string, number>();
  const students = new Map<string, Set<string>>();
  const courses = new Map<string, Set<string>>();
  const usernames = new Set<string>();
  const violations: string[] = [];
  for (const event of events) {
    const data = event.data as { courseId: string; studentId: string; capacity: number };
    switch (event.type) {
      case 'CourseDefined':
      case 'CourseCapacityChanged':
        capacities.set(data.courseId, data.capacity);
        break;
      case 'StudentSubscribedToCourse': {
        const inCourse = students.get(data.courseId) ?? new Set<string>();
        const ofStudent = courses.get(data.studentId) ?? new Set<string>();
        if (inCourse.has(data.studentId)) {
          violations.push(`${data.studentId} subscribed twice to ${data.courseId}`);
        }
        inCourse.add(data.studentId);
        ofStudent.add(data.courseId);
        students.set(data.courseId, inCourse);
        courses.set(data.studentId, ofStudent);
        if (inCourse.size > (capacities.get(data.courseId) ?? 0)) {
          violations.push(`${data.courseId} has ${inCourse.size} students, over its capacity`);
        }
        if (ofStudent.size > STUDENT_SUBSCRIPTION_LIMIT) {
          violations.push(`${data.studentId} has ${ofStudent.size} subscriptions, over the limit`);
        }
        break;
      }
      case 'StudentUnsubscribedFromCourse':
        students.get(data.courseId)?.delete(data.studentId);
        courses.get(data.studentId)?.delete(data.courseId);
        break;
      case 'UsernameRegistered': {
        const { username } = event.data as { username: string };
        if (usernames.has(username)) violations.push(`username ${username} registered twice`);
        usernames.add(username);
        break;
      }
    }
  }
  return violations;
}
