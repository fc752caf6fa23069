import t from 'tap'
import { sameSecret } from '../lib/security/tokens.js'

t.test('sameSecret: only the exact secret matches', async (t) => {
  const secret = 'secret_token'
  t.ok(sameSecret('secret_token', secret))
  t.ok(sameSecret(String(['secret', 'token'].join('_')), secret), 'a string built at run time')
  for (let i = 0; i < secret.length; i++) {
    const changed = secret.slice(0, i) + String.fromCharCode(secret.charCodeAt(i) ^ 1) + secret.slice(i + 1)
    t.notOk(sameSecret(changed, secret), `one character differs at ${i}`)
  }
  for (const given of ['', 's', 'secret', 'secret_toke', 'secret_tokenx', 'secret_tokensecret_token', 'x'.repeat(1000)]) {
    t.notOk(sameSecret(given, secret), `${JSON.stringify(given.slice(0, 30))} (length ${given.length})`)
  }
  // A shorter given string is read cyclically: a repetition of it must still not match.
  t.notOk(sameSecret('ab', 'abab'))
  t.notOk(sameSecret('abab', 'ab'))
})

t.test('sameSecret compares UTF-16 units, not bytes of them', async (t) => {
  // U+0161 and U+0061 share their low byte: a latin1 digest of each would be the same.
  t.notOk(sameSecret('\u0161bc', 'abc'))
  t.ok(sameSecret('ščř', 'ščř'))
  t.notOk(sameSecret('ščř', 'ščr'))
})
