import type { RecordedEvent } from '@eventcore/core';

/**
 * Everything that happens in the course sample of dcb.events. No event belongs to a stream: each
 * carries the tags of what it concerns, and a decision reads the events of exactly the course,
 * the student or the username it needs.
 */
export type CourseEvent =
  | { type: 'CourseDefined'; data: { courseId: string; capacity: number } }
  | { type: 'CourseCapacityChanged'; data: { courseId: string; capacity: number } }
  | { type: 'StudentSubscribedToCourse'; data: { courseId: string; studentId: string } }
  | { type: 'StudentUnsubscribedFromCourse'; data: { courseId: string; studentId: string } }
  | { type: 'UsernameRegistered'; data: { userId: string; username: string } };

/** Business rule identifiers, mapped to HTTP statuses by the exception filter. */
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

/** Ids of courses, students and users, as they appear in URLs, bodies and tags. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,49}$/;
/** Usernames: 3 to 32 lower-case letters, digits and underscores. */
export const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/;

/** The tag of every event about course `id`. */
export const courseTag = (id: string): string => `course:${id}`;
/** The tag of every event about student `id`. */
export const studentTag = (id: string): string => `student:${id}`;
/** The tag of the registration of `username`. */
export const usernameTag = (username: string): string => `username:${username}`;

/** The event types that change a course: its definition, its capacity and its subscribers. */
export const COURSE_EVENT_TYPES = [
  'CourseDefined',
  'CourseCapacityChanged',
  'StudentSubscribedToCourse',
  'StudentUnsubscribedFromCourse',
] as const;

/** The event types that change the courses a student holds. */
export const SUBSCRIPTION_EVENT_TYPES = [
  'StudentSubscribedToCourse',
  'StudentUnsubscribedFromCourse',
] as const;

/** A course as decisions and reads see it. */
export interface CourseState {
  readonly defined: boolean;
  readonly capacity: number;
  /** Students subscribed now, in the order they subscribed. */
  readonly students: readonly string[];
}

/** A course nobody has defined. */
export const noCourse: CourseState = Object.freeze({ defined: false, capacity: 0, students: [] });

/** Folds one event about a course into its state (events about other courses must not reach it). */
export function evolveCourse(state: CourseState, event: RecordedEvent<CourseEvent>): CourseState {
  switch (event.type) {
    case 'CourseDefined':
      return { defined: true, capacity: event.data.capacity, students: [] };
    case 'CourseCapacityChanged':
      return { ...state, capacity: event.data.capacity };
    case 'StudentSubscribedToCourse':
      return { ...state, students: [...state.students, event.data.studentId] };
    case 'StudentUnsubscribedFromCourse':
      return { ...state, students: state.students.filter((s) => s !== event.data.studentId) };
    default:
      return state;
  }
}

/** Folds one subscription event of a student into the courses the student holds now. */
export function evolveStudentCourses(
  courses: readonly string[],
  event: RecordedEvent<CourseEvent>,
): readonly string[] {
  switch (event.type) {
    case 'StudentSubscribedToCourse':
      return [...courses, event.data.courseId];
    case 'StudentUnsubscribedFromCourse':
      return courses.filter((c) => c !== event.data.courseId);
    default:
      return courses;
  }
}
