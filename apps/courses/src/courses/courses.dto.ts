import { IsInt, Matches, Max, Min } from 'class-validator';
import { ID_MESSAGE, MAX_CAPACITY, USERNAME_MESSAGE } from './courses.commands';
import { ID_PATTERN, USERNAME_PATTERN } from './courses.events';

/** Body of `POST /courses`. */
export class DefineCourseDto {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) courseId!: string;
  @IsInt() @Min(1) @Max(MAX_CAPACITY) capacity!: number;
}

/** Body of `POST /courses/:courseId/capacity`. */
export class CapacityDto {
  @IsInt() @Min(1) @Max(MAX_CAPACITY) capacity!: number;
}

/** Body of `POST /courses/:courseId/subscriptions`. */
export class SubscribeDto {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) studentId!: string;
}

/** Body of `POST /usernames`. */
export class RegisterUsernameDto {
  @Matches(ID_PATTERN, { message: ID_MESSAGE }) userId!: string;
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE }) username!: string;
}
