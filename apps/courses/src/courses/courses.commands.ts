/**
 * The two examples of the DCB specification (dcb.events), as EventCore commands whose consistency
 * boundary is a query instead of a stream. The core's specs run these very commands (through
 * `libs/core/src/command/__fixtures__/course.commands.ts`; docs/decisions.md, decision 28).
 *
 * - **Course subscriptions.** A course has a capacity; a student may hold at most
 *   `maxSubscriptions` courses (the app's configured limit). A subscription reads the events of
 *   the course and of the student, and writes one event tagged with both, so that a concurrent
 *   subscription to the same course *or* by the same student fails the append condition, while
 *   subscriptions of other students to other courses never touch each other. No stream per course
 *   or per student, and no aggregate holding both.
 * - **Unique usernames.** A registration reads the events tagged with the username; when there are
 *   none, the append condition has no `after`: it fails if any such event exists at all.
 *
 * Events carry their ids in `data` as well as in their tags: tags are for finding events, data for
 * folding them.
 */
import {
  Boundary,
  Command,
  type CommandContext,
  type CommandLogic,
  item,
  query,
  type RecordedEvent,
} from '@eventcore/core';
import { IsInt, Matches, Max, Min } from 'class-validator';
import {
  COURSE_EVENT_TYPES,
  type CourseEvent,
  CourseRules,
  type CourseState,
  courseTag,
  evolveCourse,
  evolveStudentCourses,
  ID_PATTERN,
  noCourse,
  studentTag,
  SUBSCRIPTION_EVENT_TYPES,
  USERNAME_PATTERN,
  usernameTag,
} from './courses.events';

/** Largest capacity of a course and largest subscription limit of a student. */
export const MAX_CAPACITY = 10_000;

/** The message of an id that does not match {@link ID_PATTERN}. */
export const ID_MESSAGE =
  '$property must be 1–50 lower-case letters, digits or "-", not starting with "-"';
/** The message of a username that does not match {@link USERNAME_PATTERN}. */
export const USERNAME_MESSAGE = '$property must be 3–32 lower-case letters, digits or "_"';

/** Defines a course with its capacity; a course is defined once. */
@Command()
export class DefineCourse implements CommandLogic<boolean, CourseEvent> {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) courseId: string;
  @IsInt() @Min(1) @Max(MAX_CAPACITY) capacity: number;

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
    return true;
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

/** Changes a course's capacity, never below the number of students it holds now; the same capacity changes nothing. */
@Command()
export class ChangeCourseCapacity implements CommandLogic<CourseState, CourseEvent> {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) courseId: string;
  @IsInt() @Min(1) @Max(MAX_CAPACITY) capacity: number;

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

  handle(course: CourseState, ctx: CommandContext<CourseEvent, ChangeCourseCapacity>): void {
    ctx.require(course.defined, `course ${this.courseId} does not exist`, CourseRules.notFound);
    ctx.require(
      this.capacity >= course.students.length,
      `course ${this.courseId} holds ${course.students.length} students, more than ${this.capacity}`,
      CourseRules.capacityBelowSubscriptions,
    );
    if (this.capacity === course.capacity) return;
    ctx.append({
      type: 'CourseCapacityChanged',
      data: { courseId: this.courseId, capacity: this.capacity },
      tags: [courseTag(this.courseId)],
    });
  }
}

/** What a subscription decides on: the course, and the courses the student holds. */
export interface SubscriptionState {
  readonly course: CourseState;
  readonly studentCourses: readonly string[];
}

/**
 * Subscribes a student to a course: the course must exist and have a free place, and the student
 * may hold at most `maxSubscriptions` courses. The decision reads the events of the course and
 * the subscriptions of the student — two consistency boundaries that no single stream holds — and
 * writes one event tagged with both, so that a concurrent subscription to the same course or by the
 * same student fails the append condition and is decided again.
 */
@Command()
export class SubscribeStudentToCourse implements CommandLogic<SubscriptionState, CourseEvent> {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) studentId: string;
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) courseId: string;
  /** The app's limit, not the client's: the controller sets it from configuration. */
  @IsInt() @Min(1) @Max(MAX_CAPACITY) maxSubscriptions: number;

  constructor(studentId: string, courseId: string, maxSubscriptions: number) {
    this.studentId = studentId;
    this.courseId = courseId;
    this.maxSubscriptions = maxSubscriptions;
  }

  @Boundary()
  boundary() {
    return query(
      item({ types: COURSE_EVENT_TYPES, tags: [courseTag(this.courseId)] }),
      item({ types: SUBSCRIPTION_EVENT_TYPES, tags: [studentTag(this.studentId)] }),
    );
  }

  initialState(): SubscriptionState {
    return { course: noCourse, studentCourses: [] };
  }

  apply(state: SubscriptionState, event: RecordedEvent<CourseEvent>): SubscriptionState {
    // One event may concern both (this student's subscription to this course): it folds into both.
    return {
      course: event.tags.includes(courseTag(this.courseId))
        ? evolveCourse(state.course, event)
        : state.course,
      studentCourses: event.tags.includes(studentTag(this.studentId))
        ? evolveStudentCourses(state.studentCourses, event)
        : state.studentCourses,
    };
  }

  handle(
    state: SubscriptionState,
    ctx: CommandContext<CourseEvent, SubscribeStudentToCourse>,
  ): void {
    const { course, studentCourses } = state;
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
      studentCourses.length < this.maxSubscriptions,
      `student ${this.studentId} already holds ${studentCourses.length} courses, the most allowed`,
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
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) studentId: string;
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) courseId: string;

  constructor(studentId: string, courseId: string) {
    this.studentId = studentId;
    this.courseId = courseId;
  }

  /** Only this student's subscriptions to this course: the events tagged with both. */
  @Boundary()
  boundary() {
    return query(
      item({
        types: SUBSCRIPTION_EVENT_TYPES,
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
 * Claims a username for a user; a username is claimed once. A free name has no event, so the
 * decision reads nothing and the append condition has no `after`: it fails if any registration of
 * the name exists at all when the append runs.
 */
@Command()
export class RegisterUsername implements CommandLogic<boolean, CourseEvent> {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) userId: string;
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE }) username: string;

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

  handle(taken: boolean, ctx: CommandContext<CourseEvent, RegisterUsername>): void {
    ctx.require(!taken, `username ${this.username} is taken`, CourseRules.usernameTaken);
    ctx.append({
      type: 'UsernameRegistered',
      data: { userId: this.userId, username: this.username },
      tags: [usernameTag(this.username)],
    });
  }
}
