import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnModuleInit,
  Optional,
  UnauthorizedException,
} from '@nestjs/common';
import { InvalidOptionsError } from '@eventcore/core';
import { RequestErrorCodes } from './problem-details';

/** Injection token of the administrators' bearer token (a string, or null when none is set). */
export const ADMIN_TOKEN = 'EVENTCORE:ADMIN_TOKEN';

/** Shortest token accepted: anything shorter can be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/**
 * Protects administrative routes (`@UseGuards(AdminTokenGuard)`) with one bearer token from
 * configuration, provided by {@link AdminTokenModule}. A request without `Authorization: Bearer
 * <token>`, or with another token, is refused 401 `request.unauthorized` (with `WWW-Authenticate`).
 * With no token configured, the guarded routes are disabled: every request is refused 403
 * `request.forbidden` — an unset variable must never leave them open to anyone.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly digest: Buffer | undefined;

  constructor(@Optional() @Inject(ADMIN_TOKEN) token?: string | null) {
    this.digest = token ? sha256(token) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.digest === undefined) {
      throw new ForbiddenException({
        code: RequestErrorCodes.forbidden,
        detail:
          'Administrative routes are disabled on this server: no admin token is configured. Configure one and restart the server to use them.',
      });
    }
    const http = context.switchToHttp();
    const header = http.getRequest<{ headers: Record<string, unknown> }>().headers.authorization;
    const given = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    // Digests of equal length, compared in constant time: the answer's timing tells nothing.
    if (given !== undefined && timingSafeEqual(sha256(given), this.digest)) return true;
    http
      .getResponse<{ header(name: string, value: string): unknown }>()
      .header(
        'WWW-Authenticate',
        given === undefined
          ? 'Bearer realm="admin"'
          : 'Bearer realm="admin", error="invalid_token"',
      );
    throw new UnauthorizedException({
      code: RequestErrorCodes.unauthorized,
      detail:
        given === undefined
          ? 'This route is for administrators: send the admin token as "Authorization: Bearer <token>".'
          : 'The bearer token is not the admin token. Send the token configured on the server.',
    });
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Makes the admin token available to {@link AdminTokenGuard} everywhere in the app (a global
 * module). `forRoot(undefined)` (or an empty string) disables the guarded routes, with a warning at
 * startup.
 * @throws InvalidOptionsError for a token shorter than {@link MIN_ADMIN_TOKEN_LENGTH} characters
 */
@Module({})
export class AdminTokenModule implements OnModuleInit {
  constructor(@Optional() @Inject(ADMIN_TOKEN) private readonly token?: string | null) {}

  static forRoot(token: string | undefined): DynamicModule {
    if (token && (token.length < MIN_ADMIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token))) {
      throw new InvalidOptionsError(
        'admin token',
        `it must be at least ${MIN_ADMIN_TOKEN_LENGTH} visible ASCII characters (for example: openssl rand -hex 32)`,
      );
    }
    return {
      module: AdminTokenModule,
      global: true,
      providers: [{ provide: ADMIN_TOKEN, useValue: token || null }, AdminTokenGuard],
      exports: [ADMIN_TOKEN, AdminTokenGuard],
    };
  }

  onModuleInit(): void {
    if (!this.token) {
      new Logger('AdminTokenGuard').warn(
        'No admin token is configured: administrative routes answer 403 to every request.',
      );
    }
  }
}
