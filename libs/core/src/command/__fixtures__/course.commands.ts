/**
 * Shared fixtures of the specs of commands whose boundary is a query. The course and username
 * domain is the course sample's (apps/courses/src/courses, where its doc comment explains the two
 * dcb.events examples; docs/decisions.md, decision 28): re-exported here, never redeclared. Beside
 * it, what the sample has no use for: the subscription limit the specs pass, and a check of the
 * examples' invariants over a whole log.
 */
export {
  ChangeCourseCapacity,
  DefineCourse,
  RegisterUsername,
  SubscribeStudentToCourse,
  UnsubscribeStudentFromCourse,
} from '../../../../../apps/courses/src/courses/courses.commands';
export {
  type CourseEvent,
  CourseRules,
  courseTag,
  studentTag,
  usernameTag,
} from '../../../../../apps/courses/src/courses/courses.events';

/**
 * The most courses one student may hold in the specs: what they pass as
 * `SubscribeStudentToCourse`'s `maxSubscriptions` (the app's default too).
 */
export const STUDENT_SUBSCRIPTION_LIMIT = 5;

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
